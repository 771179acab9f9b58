using System.Globalization;
using System.Text;
using Npgsql;

namespace Checkpointing.Postgres.Tests;

/// <summary>
/// The upgrade of a schema version 2 schema, written row for row as version 2 wrote it, to revisions (0003): see
/// <see cref="Version2Run"/> for the data and what must become of it.
/// </summary>
public sealed class RevisionUpgradeTests : IAsyncLifetime
{
    private readonly string _schema = SchemaFixture.NewSchemaName();
    private readonly Version2Run _run = new();
    private NpgsqlDataSource? _dataSource;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private NpgsqlDataSource DataSource => _dataSource!;

    public async ValueTask InitializeAsync()
    {
        await PostgresServer.RequireAsync();
        _dataSource = PostgresServer.CreateDataSource("checkpointing-tests-upgrade");
    }

    public async ValueTask DisposeAsync()
    {
        if (_dataSource is not null)
        {
            await SchemaFixture.DropSchemaAsync(_dataSource, _schema);
            await _dataSource.DisposeAsync();
        }
    }

    private PostgresCheckpointStore Open() => new(DataSource, new PostgresStoreOptions { SchemaName = _schema });

    [Fact]
    public async Task Upgrading_a_version_2_schema_numbers_its_edits_in_write_order_and_keys_its_continuations_by_revision()
    {
        await WriteVersion2SchemaAsync();

        await using var store = Open();
        Assert.Equal(PostgresMigrator.LatestVersion - 2, await store.MigrateAsync(Ct));

        await _run.AssertUpgradedAsync(store, Ct);
    }

    [Fact]
    public async Task After_upgrading_a_version_2_schema_a_queued_run_consumes_what_its_continuations_pinned()
    {
        await WriteVersion2SchemaAsync();
        await using (var store = Open())
        {
            Assert.Equal(PostgresMigrator.LatestVersion - 2, await store.MigrateAsync(Ct));
        }

        await _run.AssertRunnerConsumesWhatWasPinnedAsync(b => b.UsePostgres(DataSource, o => o.SchemaName = _schema), Ct);
    }

    private static string Time(DateTimeOffset at) => "'" + at.ToString("yyyy-MM-dd HH:mm:ss.ffffffzzz", CultureInfo.InvariantCulture) + "'";

    private static string Quote(string? text) => text is null ? "NULL" : $"'{text.Replace("'", "''", StringComparison.Ordinal)}'";

    /// <summary>Schema version 2 (scripts 0001 and 0002 in one transaction, recorded as the migrator records them) holding the run's rows.</summary>
    private async Task WriteVersion2SchemaAsync()
    {
        var run = _run;
        var (p, c) = (run.P, run.C);
        await using var connection = await DataSource.OpenConnectionAsync(Ct);
        await using var transaction = await connection.BeginTransactionAsync(Ct);
        async Task RunAsync(string sql)
        {
            await using var command = new NpgsqlCommand(sql, connection, transaction);
            await command.ExecuteNonQueryAsync(Ct);
        }

        await RunAsync($"""
            CREATE SCHEMA "{_schema}";
            CREATE TABLE "{_schema}".schema_version (version integer NOT NULL PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL);
            SET LOCAL search_path TO "{_schema}";
            """);
        foreach (var migration in PostgresMigrator.Migrations.Take(2))
        {
            await RunAsync(migration.Sql);
            await RunAsync($"INSERT INTO schema_version VALUES ({migration.Version}, {Quote(migration.Name)}, {Time(Version2Run.T0.AddDays(-30))});");
        }

        var sql = new StringBuilder($"""
            INSERT INTO runs (id, pipeline, owner_id, input, auto_continue, status, current_phase, current_branch, parent_checkpoint_id, error,
                              cost, budget, created_at, updated_at, lease_owner, lease_expires_at, lease_token)
            VALUES ('{run.RunId}', 'video', 'owner', '{Version2Run.Input}', false, 'Queued', 3, 'main-1', '{c}', NULL,
                    0, NULL, {Time(Version2Run.At(0))}, {Time(Version2Run.At(8))}, NULL, NULL, 4);
            INSERT INTO branches (run_id, name, parent_branch, forked_from, created_at)
            VALUES ('{run.RunId}', 'main', NULL, NULL, {Time(Version2Run.At(0))}),
                   ('{run.RunId}', 'main-1', 'main', '{p}', {Time(Version2Run.At(3))});
            INSERT INTO checkpoints (id, run_id, branch, phase, version, parent_id, status, approved_at, created_at, output, cost, created_by, edit_description, consumed)
            VALUES ('{p}', '{run.RunId}', 'main', 1, 1, NULL, 'Approved', {Time(Version2Run.At(3))}, {Time(Version2Run.At(1))}, '{Version2Run.Output}', 0, NULL, NULL, '[]'),
                   ('{c}', '{run.RunId}', 'main-1', 2, 1, '{p}', 'Approved', {Time(Version2Run.At(8))}, {Time(Version2Run.At(4))}, NULL, 0, 'alice', 'shorter spec', '{run.PinsAfterFirstEdit}');

            """);
        foreach (var a in run.Artifacts)
        {
            var current = run.Current(a.Id);
            sql.AppendLine($"""
                INSERT INTO artifacts (id, checkpoint_id, type, key, version, content, metadata, unit_index, updated_at, updated_by, reason)
                VALUES ('{a.Id}', '{a.CheckpointId}', '{a.Type}', '{a.Key}', {current.Version}, '{Version2Run.Content(current.Text)}', '{Version2Run.Metadata}',
                        {a.UnitIndex?.ToString(CultureInfo.InvariantCulture) ?? "NULL"}, {Time(current.At)}, {Quote(current.By)}, {Quote(current.Reason)});
                """);
        }

        foreach (var v in run.Versions)
        {
            sql.AppendLine($"""
                INSERT INTO artifact_versions (artifact_id, version, parent_version, content, metadata, created_at, created_by, reason, blob_hash)
                VALUES ('{v.ArtifactId}', {v.Version}, {v.ParentVersion?.ToString(CultureInfo.InvariantCulture) ?? "NULL"}, '{Version2Run.Content(v.Text)}',
                        '{Version2Run.Metadata}', {Time(v.At)}, {Quote(v.By)}, {Quote(v.Reason)}, NULL);
                """);
        }

        sql.AppendLine($"""
            INSERT INTO continuations (checkpoint_id, fingerprint, branch, branch_created, created_at, pins, requested_by, description)
            VALUES ('{p}', '{Version2Run.FingerprintAfterFirstEdit}', 'main-1', true, {Time(Version2Run.At(3))}, '{run.PinsAfterFirstEdit}', 'alice', 'shorter spec');
            INSERT INTO continuations (checkpoint_id, fingerprint, branch, branch_created, created_at)
            VALUES ('{c}', 'written-by-version-1', 'main-1', false, {Time(Version2Run.At(8))});
            """);
        await RunAsync(sql.ToString());
        await transaction.CommitAsync(Ct);
    }
}
