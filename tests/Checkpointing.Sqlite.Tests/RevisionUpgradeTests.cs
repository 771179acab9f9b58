using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Checkpointing.Sqlite.Tests;

/// <summary>
/// The upgrade of a schema version 2 database, written row for row as version 2 wrote it, to revisions (0003): see
/// <see cref="Version2Run"/> for the data and what must become of it.
/// </summary>
public sealed class RevisionUpgradeTests : IDisposable
{
    private readonly TempDatabase _database = new();
    private readonly Version2Run _run = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task Upgrading_a_version_2_database_numbers_its_edits_in_write_order_and_keys_its_continuations_by_revision()
    {
        WriteVersion2Database();

        using var store = _database.Open();
        Assert.Equal(SqliteMigrator.LatestVersion - 2, await store.MigrateAsync(Ct));

        await _run.AssertUpgradedAsync(store, Ct);
    }

    [Fact]
    public async Task After_upgrading_a_version_2_database_a_queued_run_consumes_what_its_continuations_pinned()
    {
        WriteVersion2Database();
        using (var store = _database.Open())
        {
            Assert.Equal(SqliteMigrator.LatestVersion - 2, await store.MigrateAsync(Ct));
        }

        await _run.AssertRunnerConsumesWhatWasPinnedAsync(b => b.UseSqlite(_database.FilePath), Ct);
    }

    private static string Text(DateTimeOffset at) => at.ToString("O", CultureInfo.InvariantCulture);

    private static string Quote(string? text) => text is null ? "NULL" : $"'{text.Replace("'", "''", StringComparison.Ordinal)}'";

    /// <summary>Schema version 2 (scripts 0001 and 0002, recorded as the migrator records them) holding the run's rows.</summary>
    private void WriteVersion2Database()
    {
        var run = _run;
        var (p, c) = (run.P, run.C);
        var sql = new StringBuilder();
        sql.AppendLine("CREATE TABLE schema_version (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);");
        foreach (var migration in SqliteMigrator.Migrations.Take(2))
        {
            sql.AppendLine(migration.Sql);
            sql.AppendLine($"INSERT INTO schema_version VALUES ({migration.Version}, {Quote(migration.Name)}, {Quote(Text(Version2Run.T0.AddDays(-30)))});");
        }

        sql.AppendLine($"""
            INSERT INTO runs (id, pipeline, owner_id, input, auto_continue, status, current_phase, current_branch, parent_checkpoint_id, error,
                              cost, budget, created_at, created_ticks, updated_at, lease_owner, lease_expires_at, lease_expires_ticks, lease_token, updated_ticks)
            VALUES ('{run.RunId}', 'video', 'owner', '{Version2Run.Input}', 0, 'Queued', 3, 'main-1', '{c}', NULL,
                    '0', NULL, '{Text(Version2Run.At(0))}', {Version2Run.At(0).UtcTicks}, '{Text(Version2Run.At(8))}', NULL, NULL, NULL, 4, {Version2Run.At(8).UtcTicks});
            INSERT INTO branches (run_id, name, parent_branch, forked_from, created_at)
            VALUES ('{run.RunId}', 'main', NULL, NULL, '{Text(Version2Run.At(0))}'),
                   ('{run.RunId}', 'main-1', 'main', '{p}', '{Text(Version2Run.At(3))}');
            INSERT INTO checkpoints (id, run_id, branch, phase, version, parent_id, status, approved_at, created_at, output, cost, created_by, edit_description, consumed)
            VALUES ('{p}', '{run.RunId}', 'main', 1, 1, NULL, 'Approved', '{Text(Version2Run.At(3))}', '{Text(Version2Run.At(1))}', '{Version2Run.Output}', '0', NULL, NULL, '[]'),
                   ('{c}', '{run.RunId}', 'main-1', 2, 1, '{p}', 'Approved', '{Text(Version2Run.At(8))}', '{Text(Version2Run.At(4))}', NULL, '0', 'alice', 'shorter spec', '{run.PinsAfterFirstEdit}');
            """);
        foreach (var a in run.Artifacts)
        {
            var current = run.Current(a.Id);
            sql.AppendLine($"""
                INSERT INTO artifacts (id, checkpoint_id, type, key, version, content, metadata, unit_index, updated_at, updated_by, reason)
                VALUES ('{a.Id}', '{a.CheckpointId}', '{a.Type}', '{a.Key}', {current.Version}, '{Version2Run.Content(current.Text)}', '{Version2Run.Metadata}',
                        {a.UnitIndex?.ToString(CultureInfo.InvariantCulture) ?? "NULL"}, '{Text(current.At)}', {Quote(current.By)}, {Quote(current.Reason)});
                """);
        }

        foreach (var v in run.Versions)
        {
            sql.AppendLine($"""
                INSERT INTO artifact_versions (artifact_id, version, parent_version, content, metadata, created_at, created_by, reason, blob_hash)
                VALUES ('{v.ArtifactId}', {v.Version}, {v.ParentVersion?.ToString(CultureInfo.InvariantCulture) ?? "NULL"}, '{Version2Run.Content(v.Text)}',
                        '{Version2Run.Metadata}', '{Text(v.At)}', {Quote(v.By)}, {Quote(v.Reason)}, NULL);
                """);
        }

        sql.AppendLine($"""
            INSERT INTO continuations (checkpoint_id, fingerprint, branch, branch_created, created_at, pins, requested_by, description)
            VALUES ('{p}', '{Version2Run.FingerprintAfterFirstEdit}', 'main-1', 1, '{Text(Version2Run.At(3))}', '{run.PinsAfterFirstEdit}', 'alice', 'shorter spec');
            INSERT INTO continuations (checkpoint_id, fingerprint, branch, branch_created, created_at)
            VALUES ('{c}', 'written-by-version-1', 'main-1', 0, '{Text(Version2Run.At(8))}');
            """);

        using var connection = new SqliteConnection($"Data Source={_database.FilePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql.ToString();
        command.ExecuteNonQuery();
    }
}
