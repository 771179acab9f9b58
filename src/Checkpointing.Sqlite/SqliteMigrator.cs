using System.Globalization;
using System.Reflection;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Checkpointing.Sqlite;

/// <summary>
/// Applies the numbered SQL scripts embedded under <c>Scripts/</c> (<c>0001_initial.sql</c>, …) in order. Each script
/// runs in its own <c>BEGIN IMMEDIATE</c> transaction that first re-reads the <c>schema_version</c> table, so two
/// processes starting at once apply every script exactly once: the second waits for the first's lock, then sees the
/// version recorded and skips it.
/// </summary>
internal static class SqliteMigrator
{
    private const string ResourcePrefix = "Checkpointing.Sqlite.Scripts.";

    /// <summary>The embedded migrations, by version.</summary>
    internal static IReadOnlyList<Migration> Migrations { get; } = Load();

    /// <summary>The highest schema version this package knows.</summary>
    internal static int LatestVersion => Migrations.Count == 0 ? 0 : Migrations[^1].Version;

    /// <summary>Switches the database to WAL mode and applies every migration not yet recorded.</summary>
    /// <returns>The number of migrations applied by this call.</returns>
    internal static int Migrate(SqliteConnection connection, ILogger logger, string dataSource, DateTimeOffset now)
    {
        // An up-to-date schema is only read, so a read-only database (or folder) still opens for reading.
        if (ReadVersionIfAny(connection) is var found && found >= LatestVersion && found > 0)
        {
            if (found > LatestVersion)
            {
                logger.SchemaNewer(dataSource, found, LatestVersion);
            }
            else
            {
                logger.SchemaUpToDate(dataSource, found);
            }

            return 0;
        }

        using (var wal = connection.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode = WAL;";
            wal.ExecuteNonQuery();
        }

        var applied = 0;
        var current = 0;
        foreach (var migration in Migrations)
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            Execute(connection, transaction, """
                CREATE TABLE IF NOT EXISTS schema_version (
                    version    INTEGER NOT NULL PRIMARY KEY,
                    name       TEXT    NOT NULL,
                    applied_at TEXT    NOT NULL
                );
                """);
            current = ReadVersion(connection, transaction);
            if (current >= migration.Version)
            {
                transaction.Commit();
                continue;
            }

            Execute(connection, transaction, migration.Sql);
            using (var record = connection.CreateCommand())
            {
                record.Transaction = transaction;
                record.CommandText = "INSERT INTO schema_version (version, name, applied_at) VALUES ($version, $name, $at);";
                record.Parameters.AddWithValue("$version", migration.Version);
                record.Parameters.AddWithValue("$name", migration.Name);
                record.Parameters.AddWithValue("$at", now.ToString("O", CultureInfo.InvariantCulture));
                record.ExecuteNonQuery();
            }

            transaction.Commit();
            current = migration.Version;
            applied++;
            logger.MigrationApplied(migration.Version, migration.Name, dataSource);
        }

        if (current > LatestVersion)
        {
            logger.SchemaNewer(dataSource, current, LatestVersion);
        }
        else if (applied == 0)
        {
            logger.SchemaUpToDate(dataSource, current);
        }

        return applied;
    }

    /// <summary>Reads the recorded schema version in a read transaction, 0 when there is no schema_version table.</summary>
    private static int ReadVersionIfAny(SqliteConnection connection)
    {
        using var transaction = connection.BeginTransaction(deferred: true);
        using var exists = connection.CreateCommand();
        exists.Transaction = transaction;
        exists.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version';";
        var version = Convert.ToInt64(exists.ExecuteScalar(), CultureInfo.InvariantCulture) == 0 ? 0 : ReadVersion(connection, transaction);
        transaction.Commit();
        return version;
    }

    /// <summary>Reads the highest recorded schema version, 0 when none.</summary>
    internal static int ReadVersion(SqliteConnection connection, SqliteTransaction? transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT COALESCE(MAX(version), 0) FROM schema_version;";
        return Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static List<Migration> Load()
    {
        var assembly = typeof(SqliteMigrator).Assembly;
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
