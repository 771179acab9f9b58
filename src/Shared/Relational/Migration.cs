using System.Globalization;
using System.Reflection;

namespace Checkpointing.Relational;

/// <summary>One numbered SQL script embedded in a store's assembly.</summary>
/// <param name="Version">Its number.</param>
/// <param name="Name">Its file name without extension, e.g. <c>0001_initial</c>.</param>
/// <param name="Sql">Its statements.</param>
internal sealed record Migration(int Version, string Name, string Sql)
{
    /// <summary>
    /// Reads the scripts embedded under <paramref name="resourcePrefix"/> (<c>Scripts/0001_initial.sql</c>, …) and orders
    /// them by number.
    /// </summary>
    /// <param name="assembly">The store's assembly.</param>
    /// <param name="resourcePrefix">The logical name prefix of the scripts, e.g. <c>Checkpointing.Sqlite.Scripts.</c>.</param>
    /// <returns>The migrations, numbered 1, 2, 3, … without gaps.</returns>
    /// <exception cref="InvalidOperationException">A script is not named <c>NNNN_description.sql</c>, or the numbers have a gap.</exception>
    internal static IReadOnlyList<Migration> LoadEmbedded(Assembly assembly, string resourcePrefix)
    {
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(resourcePrefix, StringComparison.Ordinal) || !resource.EndsWith(".sql", StringComparison.Ordinal))
            {
                continue;
            }

            var name = resource[resourcePrefix.Length..^".sql".Length];
            var separator = name.IndexOf('_', StringComparison.Ordinal);
            if (separator <= 0 || !int.TryParse(name.AsSpan(0, separator), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            {
                throw new InvalidOperationException($"Embedded migration '{resource}' is not named 'NNNN_description.sql'.");
            }

            using var stream = assembly.GetManifestResourceStream(resource)
                ?? throw new InvalidOperationException($"Embedded migration '{resource}' cannot be read.");
            using var reader = new StreamReader(stream);
            migrations.Add(new Migration(version, name, reader.ReadToEnd()));
        }

        migrations.Sort((a, b) => a.Version.CompareTo(b.Version));
        for (var i = 0; i < migrations.Count; i++)
        {
            if (migrations[i].Version != i + 1)
            {
                throw new InvalidOperationException($"Embedded migrations must be numbered 1, 2, 3, … without gaps; found {migrations[i].Version} at position {i + 1}.");
            }
        }

        return migrations;
    }
}
