using System.Globalization;
using Checkpointing.Relational;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Checkpointing.Postgres;

/// <summary>
/// Applies the numbered SQL scripts embedded under <c>Scripts/</c> (<c>0001_initial.sql</c>, …) in order with the
/// shared <see cref="Migrator"/>. Each script runs in its own transaction that first takes <c>pg_advisory_xact_lock</c>
/// on a key derived from the schema name, then creates the schema and the <c>schema_version</c> table if missing and
/// re-reads the version: several processes starting at once apply each script exactly once (the others wait for the
/// lock, then find it recorded).
/// </summary>
internal static class PostgresMigrator
{
    /// <summary>The embedded migrations, by version.</summary>
    internal static IReadOnlyList<Migration> Migrations { get; } = Migration.LoadEmbedded(typeof(PostgresMigrator).Assembly, "Checkpointing.Postgres.Scripts.");

    /// <summary>The highest schema version this package knows.</summary>
    internal static int LatestVersion => Migrator.LatestVersion(Migrations);

    /// <summary>Applies every migration not yet recorded in <paramref name="schema"/>.</summary>
    /// <returns>The number of migrations applied by this call.</returns>
    internal static Task<int> MigrateAsync(NpgsqlConnection connection, string schema, ILogger logger, DateTimeOffset now, CancellationToken cancellationToken) =>
        Migrator.MigrateAsync(
            Migrations,
            ct => Step.BeginAsync(connection, schema, ct),
            now,
            new MigrationLog(
                m => logger.MigrationApplied(m.Version, m.Name, schema),
                version => logger.SchemaUpToDate(schema, version),
                (version, known) => logger.SchemaNewer(schema, version, known)),
            cancellationToken);

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

    /// <summary>
    /// One migration step: a transaction holding <c>pg_advisory_xact_lock</c> on a key derived from the schema name, in
    /// which the schema and its <c>schema_version</c> table exist.
    /// </summary>
    private sealed class Step : IMigrationStep
    {
        private readonly NpgsqlConnection _connection;
        private readonly NpgsqlTransaction _transaction;
        private readonly string _schema;

        private Step(NpgsqlConnection connection, NpgsqlTransaction transaction, string schema)
        {
            _connection = connection;
            _transaction = transaction;
            _schema = schema;
        }

        public static async Task<IMigrationStep> BeginAsync(NpgsqlConnection connection, string schema, CancellationToken cancellationToken)
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await using (var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended('checkpointing.migrations:' || $1, 0));", connection, transaction))
                {
                    command.Parameters.Add(new NpgsqlParameter { Value = schema });
                    await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                var quoted = Quote(schema);
                await ExecuteAsync(connection, transaction, $"""
                    CREATE SCHEMA IF NOT EXISTS {quoted};
                    CREATE TABLE IF NOT EXISTS {quoted}.schema_version (
                        version    integer     NOT NULL PRIMARY KEY,
                        name       text        NOT NULL,
                        applied_at timestamptz NOT NULL
                    );
                    """, cancellationToken).ConfigureAwait(false);
                return new Step(connection, transaction, schema);
            }
            catch
            {
                await transaction.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        public Task<int> ReadVersionAsync(CancellationToken cancellationToken) => PostgresMigrator.ReadVersionAsync(_connection, _transaction, _schema, cancellationToken);

        public async Task ApplyAsync(Migration migration, DateTimeOffset appliedAt, CancellationToken cancellationToken)
        {
            var quoted = Quote(_schema);
            await ExecuteAsync(_connection, _transaction, $"SET LOCAL search_path TO {quoted};", cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(_connection, _transaction, migration.Sql, cancellationToken).ConfigureAwait(false);
            await using var record = new NpgsqlCommand($"INSERT INTO {quoted}.schema_version (version, name, applied_at) VALUES (@version, @name, @at);", _connection, _transaction);
            record.Parameters.AddWithValue("version", migration.Version);
            record.Parameters.AddWithValue("name", migration.Name);
            record.Parameters.AddWithValue("at", appliedAt.ToUniversalTime());
            await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        public Task CommitAsync(CancellationToken cancellationToken) => _transaction.CommitAsync(cancellationToken);

        public ValueTask DisposeAsync() => _transaction.DisposeAsync();
    }
}
