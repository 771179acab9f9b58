using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Checkpointing.Sqlite.Tests;

/// <summary>
/// How the store uses its pooled connections: per-connection settings set once per physical connection and kept while
/// it waits in the pool, and the statements a commit and a load run.
/// </summary>
public sealed class ConnectionSetupTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly TempDatabase _database = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _database.Dispose();

    private static Run NewRun() =>
        new()
        {
            Id = Guid.NewGuid(),
            Pipeline = "video",
            OwnerId = "owner",
            Input = JsonSerializer.SerializeToElement(new { }),
            Status = RunStatus.Queued,
            CreatedAt = T0,
            UpdatedAt = T0,
        };

    private static NewCheckpoint NewCheckpoint(Guid runId, int artifacts) =>
        new()
        {
            Id = Guid.NewGuid(),
            RunId = runId,
            Branch = "main",
            Phase = 1,
            Artifacts = Enumerable.Range(1, artifacts).Select(i => new NewArtifact(Guid.NewGuid(), "beat", $"beat_{i}",
                ArtifactContent.FromJson(JsonSerializer.SerializeToElement(new { i })), ArtifactMetadata.Empty, i)).ToList(),
            CreatedAt = T0,
        };

    /// <summary>
    /// Records every statement run on the store's idle pooled connection from now on. Used one call at a time, the store
    /// takes that same connection again (the pool hands out the most recently returned one).
    /// </summary>
    private static List<string> TraceStatements(SqliteCheckpointStore store)
    {
        var statements = new List<string>();
        using var connection = new SqliteConnection(store.ConnectionString);
        connection.Open();
        SQLitePCL.raw.sqlite3_trace(connection.Handle, (_, sql) =>
        {
            lock (statements)
            {
                statements.Add(sql.utf8_to_string().Trim());
            }
        }, null);
        return statements;
    }

    [Fact]
    public async Task A_pooled_connection_is_set_up_once_and_a_commit_and_a_load_run_only_their_own_statements()
    {
        using var store = _database.Open(o => o.Synchronous = SqliteSynchronous.Normal);
        var run = NewRun();
        await store.CreateRunAsync(run, Ct);
        var statements = TraceStatements(store);

        var saved = await store.CommitCheckpointAsync(NewCheckpoint(run.Id, artifacts: 3), Ct);
        var commit = statements.ToList();
        statements.Clear();
        await store.GetCheckpointAsync(saved.Id, Ct);
        var loadCheckpoint = statements.ToList();
        statements.Clear();
        await store.GetArtifactsAsync(saved.Id, Ct);
        var loadArtifacts = statements.ToList();

        Assert.DoesNotContain(commit.Concat(loadCheckpoint).Concat(loadArtifacts), s => s.StartsWith("PRAGMA", StringComparison.OrdinalIgnoreCase));

        // BEGIN IMMEDIATE, one query for the run, branch, duplicates and version, the checkpoint, two rows per artifact, COMMIT.
        Assert.Equal(2 * 3 + 4, commit.Count);
        Assert.StartsWith("BEGIN IMMEDIATE", commit[0], StringComparison.Ordinal);
        Assert.StartsWith("COMMIT", commit[^1], StringComparison.Ordinal);

        // A read of one statement needs no transaction around it.
        Assert.StartsWith("SELECT", Assert.Single(loadCheckpoint), StringComparison.Ordinal);
        Assert.StartsWith("SELECT", Assert.Single(loadArtifacts), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reused_pooled_connection_keeps_foreign_keys_the_busy_timeout_and_the_durability()
    {
        using var store = _database.Open(o =>
        {
            o.Synchronous = SqliteSynchronous.Normal;
            o.BusyTimeout = TimeSpan.FromSeconds(7);
        });
        var run = NewRun();
        await store.CreateRunAsync(run, Ct);
        await store.CommitCheckpointAsync(NewCheckpoint(run.Id, artifacts: 1), Ct);

        Assert.Equal(1, store.ReadPragma("foreign_keys"));
        Assert.Equal(7000, store.ReadPragma("busy_timeout"));
        Assert.Equal(1, store.ReadPragma("synchronous"));
    }

    [Fact]
    public async Task A_new_physical_connection_gets_the_settings_too()
    {
        using var store = _database.Open(o => o.Synchronous = SqliteSynchronous.Normal);
        await store.CreateRunAsync(NewRun(), Ct);

        // The idle pooled connection is taken here, so the store has to open a second one.
        using var held = new SqliteConnection(store.ConnectionString);
        held.Open();

        Assert.Equal(1, store.ReadPragma("foreign_keys"));
        Assert.Equal(30_000, store.ReadPragma("busy_timeout"));
        Assert.Equal(1, store.ReadPragma("synchronous"));
    }

    [Fact]
    public async Task Two_stores_with_other_settings_on_one_file_each_get_their_own_on_the_shared_pool()
    {
        using var full = _database.Open(o => o.Synchronous = SqliteSynchronous.Full);
        using var normal = _database.Open(o => o.Synchronous = SqliteSynchronous.Normal);
        await full.CreateRunAsync(NewRun(), Ct);
        await normal.CreateRunAsync(NewRun(), Ct);

        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(2, full.ReadPragma("synchronous"));
            Assert.Equal(1, normal.ReadPragma("synchronous"));
        }
    }

    [Fact]
    public async Task Foreign_keys_are_enforced_on_a_reused_connection()
    {
        using var store = _database.Open();
        await store.CreateRunAsync(NewRun(), Ct);
        await store.CreateRunAsync(NewRun(), Ct);

        using var connection = new SqliteConnection(store.ConnectionString);
        connection.Open();
        using var insert = connection.CreateCommand();
        insert.CommandText = "INSERT INTO branches (run_id, name, created_at) VALUES ('no-such-run', 'main', '2026-05-01T12:00:00.0000000+00:00');";

        var e = Assert.Throws<SqliteException>(() => insert.ExecuteNonQuery());
        Assert.Equal(19, e.SqliteErrorCode); // SQLITE_CONSTRAINT: the run does not exist
    }
}
