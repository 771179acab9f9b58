using Npgsql;

namespace Checkpointing.Postgres.Tests;

/// <summary>
/// One schema of its own for a test class, migrated once, with two data sources (two connection pools, as two
/// processes would have); dropped when the class is done. <see cref="ResetAsync"/> empties the tables between tests.
/// </summary>
public sealed class SchemaFixture : IAsyncLifetime
{
    private NpgsqlDataSource? _first;
    private NpgsqlDataSource? _second;

    public string Schema { get; } = NewSchemaName();

    public NpgsqlDataSource First => _first ?? throw new InvalidOperationException("Not initialised.");

    public NpgsqlDataSource Second => _second ?? throw new InvalidOperationException("Not initialised.");

    public static string NewSchemaName() => "test_" + Guid.NewGuid().ToString("N")[..16];

    public PostgresCheckpointStore OpenStore(NpgsqlDataSource? dataSource = null) =>
        new(dataSource ?? First, new PostgresStoreOptions { SchemaName = Schema });

    public async ValueTask InitializeAsync()
    {
        await PostgresServer.RequireAsync();
        _first = PostgresServer.CreateDataSource("checkpointing-tests-1");
        _second = PostgresServer.CreateDataSource("checkpointing-tests-2");
        await using var store = OpenStore();
        await store.MigrateAsync();
    }

    public async Task ResetAsync()
    {
        await using var command = First.CreateCommand(
            $"TRUNCATE \"{Schema}\".runs, \"{Schema}\".branches, \"{Schema}\".checkpoints, \"{Schema}\".artifacts, \"{Schema}\".artifact_versions, " +
            $"\"{Schema}\".continuations, \"{Schema}\".journal_jobs, \"{Schema}\".journal_units, \"{Schema}\".events RESTART IDENTITY CASCADE;");
        await command.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_first is not null)
        {
            await DropSchemaAsync(_first, Schema);
            await _first.DisposeAsync();
        }

        if (_second is not null)
        {
            await _second.DisposeAsync();
        }
    }

    public static async Task DropSchemaAsync(NpgsqlDataSource dataSource, string schema)
    {
        await using var command = dataSource.CreateCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE;");
        await command.ExecuteNonQueryAsync();
    }
}
