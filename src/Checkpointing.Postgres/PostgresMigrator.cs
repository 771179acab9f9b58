using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Checkpointing.Postgres;

/// <summary>
/// Applies the numbered SQL scripts embedded under <c>Scripts/</c> (<c>0001_initial.sql</c>, …) in order. Each script
/// runs in its own transaction that first takes <c>pg_advisory_xact_lock</c> on a key derived from the schema name,
/// then creates the schema and the <c>schema_version</c> table if missing and re-reads the version: several processes
/// starting at once apply each script exactly once (the others wait for the lock, then find it recorded).
/// </summary>
internal static class PostgresMigrator
{
    private const string ResourcePrefix = "Checkpointing.Postgres.Scripts.";

    /// <summary>The embedded migrations, by version.</summary>
    internal static IReadOnlyList<Migration> Migrations { get; } = Load();

    /// <summary>The highest schema version this package knows.</summary>
    internal static int LatestVersion => Migrations.Count == 0 ? 0 : Migrations[^1].Version;

    /// <summary>Applies every migration not yet recorded in <paramref name="schema"/>.</summary>
    /// <returns>The number of migrations applied by this call.</returns>
    internal static async Task<int> MigrateAsync(NpgsqlConnection connection, string schema, ILogger logger, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var quoted = Quote(schema);
        var applied = 0;
        var current = 0;
        foreach (var migration in Migrations)
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended('checkpointing.migrations:' || $1, 0));", connection, transaction))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = schema });
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await ExecuteAsync(connection, transaction, $"""
                CREATE SCHEMA IF NOT EXISTS {quoted};
                CREATE TABLE IF NOT EXISTS {quoted}.schema_version (
                    version    integer     NOT NULL PRIMARY KEY,
                    name       text        NOT NULL,
                    applied_at timestamptz NOT NULL
                );
                """, cancellationToken).ConfigureAwait(false);
            current = await ReadVersionAsync(connection, transaction, schema, cancellationToken).ConfigureAwait(false);
            if (current >= migration.Version)
            {
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            await ExecuteAsync(connection, transaction, $"SET LOCAL search_path TO {quoted};", cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, transaction, migration.Sql, cancellationToken).ConfigureAwait(false);
            await using (var record = new NpgsqlCommand($"INSERT INTO {quoted}.schema_version (version, name, applied_at) VALUES (@version, @name, @at);", connection, transaction))
            {
                record.Parameters.AddWithValue("version", migration.Version);
                record.Parameters.AddWithValue("name", migration.Name);
                record.Parameters.AddWithValue("at", now.ToUniversalTime());
                await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            current = migration.Version;
            applied++;
            logger.MigrationApplied(migration.Version, migration.Name, schema);
        }

        if (current > LatestVersion)
        {
            logger.SchemaNewer(schema, current, LatestVersion);
        }
        else if (applied == 0)
        {
            logger.SchemaUpToDate(schema, current);
        }

        return applied;
    }

    /// <summary>Reads the highest recorded schema version, 0 when the schema or its version table does not exist.</summary>
    internal static async Task<int> ReadVersionAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string schema, CancellationToken cancellationToken)
    {
        await using var exists = new NpgsqlCommand("SELECT to_regclass(format('%I.schema_version', $1::text)) IS NOT NULL;", connection, transaction);
        exists.Parameters.Add(new NpgsqlParameter { Value = schema });
        if (!(bool)(await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
        {
            return 0;
        }

        await using var command = new NpgsqlCommand($"SELECT COALESCE(MAX(version), 0) FROM {Quote(schema)}.schema_version;", connection, transaction);
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }

    /// <summary>Quotes a validated schema name as an identifier.</summary>
    internal static string Quote(string schema) => "\"" + schema.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static List<Migration> Load()
    {
        var assembly = typeof(PostgresMigrator).Assembly;
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(ResourcePrefix, StringComparison.Ordinal) || !resource.EndsWith(".sql", StringComparison.Ordinal))
            {
                continue;
            }

            var name = resource[ResourcePrefix.Length..^".sql".Length];
            var separator = name.IndexOf('_', StringComparison.Ordinal);
            if (separator <= 0 || !int.TryParse(name.AsSpan(0, separator), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            {
                throw new InvalidOperationException($"Embedded migration '{resource}' is not named 'NNNN_description.sql'.");
            }

            migrations.Add(new Migration(version, name, ReadResource(assembly, resource)));
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

    private static string ReadResource(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"Embedded migration '{resource}' cannot be read.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>One numbered SQL script.</summary>
    /// <param name="Version">Its number.</param>
    /// <param name="Name">Its file name without extension.</param>
    /// <param name="Sql">Its statements.</param>
    internal sealed record Migration(int Version, string Name, string Sql);
}
