using System.Globalization;
using Checkpointing.Relational;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Checkpointing.Sqlite;

/// <summary>
/// Applies the numbered SQL scripts embedded under <c>Scripts/</c> (<c>0001_initial.sql</c>, …) in order with the
/// shared <see cref="Migrator"/>. Each script runs in its own <c>BEGIN IMMEDIATE</c> transaction that first re-reads
/// the <c>schema_version</c> table, so two processes starting at once apply every script exactly once: the second
/// waits for the first's lock, then sees the version recorded and skips it.
/// </summary>
internal static class SqliteMigrator
{
    /// <summary>The embedded migrations, by version.</summary>
    internal static IReadOnlyList<Migration> Migrations { get; } = Migration.LoadEmbedded(typeof(SqliteMigrator).Assembly, "Checkpointing.Sqlite.Scripts.");

    /// <summary>The highest schema version this package knows.</summary>
    internal static int LatestVersion => Migrator.LatestVersion(Migrations);

    /// <summary>Switches the database to WAL mode and applies every migration not yet recorded.</summary>
    /// <returns>The number of migrations applied by this call.</returns>
    internal static async Task<int> MigrateAsync(SqliteConnection connection, ILogger logger, string dataSource, DateTimeOffset now, CancellationToken cancellationToken)
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

        return await Migrator.MigrateAsync(
            Migrations,
            _ => Task.FromResult<IMigrationStep>(new Step(connection)),
            now,
            new MigrationLog(
                m => logger.MigrationApplied(m.Version, m.Name, dataSource),
                version => logger.SchemaUpToDate(dataSource, version),
                (version, known) => logger.SchemaNewer(dataSource, version, known)),
            cancellationToken).ConfigureAwait(false);
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

    /// <summary>
    /// One migration step: a <c>BEGIN IMMEDIATE</c> transaction (SQLite's write lock, held until commit) in which the
    /// <c>schema_version</c> table exists.
    /// </summary>
    private sealed class Step : IMigrationStep
    {
        private readonly SqliteConnection _connection;
        private readonly SqliteTransaction _transaction;

        public Step(SqliteConnection connection)
        {
            _connection = connection;
            _transaction = connection.BeginTransaction(deferred: false);
            try
            {
                Execute("""
                    CREATE TABLE IF NOT EXISTS schema_version (
                        version    INTEGER NOT NULL PRIMARY KEY,
                        name       TEXT    NOT NULL,
                        applied_at TEXT    NOT NULL
                    );
                    """);
            }
            catch
            {
                _transaction.Dispose();
                throw;
            }
        }

        public Task<int> ReadVersionAsync(CancellationToken cancellationToken) => Task.FromResult(ReadVersion(_connection, _transaction));

        public Task ApplyAsync(Migration migration, DateTimeOffset appliedAt, CancellationToken cancellationToken)
        {
            Execute(migration.Sql);
            using var record = _connection.CreateCommand();
            record.Transaction = _transaction;
            record.CommandText = "INSERT INTO schema_version (version, name, applied_at) VALUES ($version, $name, $at);";
            record.Parameters.AddWithValue("$version", migration.Version);
            record.Parameters.AddWithValue("$name", migration.Name);
            record.Parameters.AddWithValue("$at", appliedAt.ToString("O", CultureInfo.InvariantCulture));
            record.ExecuteNonQuery();
            return Task.CompletedTask;
        }

        public Task CommitAsync(CancellationToken cancellationToken)
        {
            _transaction.Commit();
            return Task.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            _transaction.Dispose();
            return default;
        }

        private void Execute(string sql)
        {
            using var command = _connection.CreateCommand();
            command.Transaction = _transaction;
            command.CommandText = sql;
            command.ExecuteNonQuery();
        }
    }
}
