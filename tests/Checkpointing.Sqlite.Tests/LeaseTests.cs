using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Checkpointing.Sqlite.Tests;

/// <summary>What the SQLite store adds to the lease and event conformance tests: times with offsets, upgrades, the log's text.</summary>
public sealed class LeaseTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Pacific = TimeSpan.FromHours(-7);
    private readonly TempDatabase _database = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _database.Dispose();

    private static Run NewRun(DateTimeOffset at, RunStatus status = RunStatus.Queued)
    {
        using var input = JsonDocument.Parse("{}");
        return new()
        {
            Id = Guid.NewGuid(),
            Pipeline = "video",
            OwnerId = "owner",
            Input = input.RootElement.Clone(),
            Status = status,
            CurrentPhase = 1,
            CurrentBranch = "main",
            CreatedAt = at,
            UpdatedAt = at,
        };
    }

    private SqliteConnection OpenRaw()
    {
        var connection = new SqliteConnection($"Data Source={_database.FilePath};Pooling=False");
        connection.Open();
        return connection;
    }

    [Fact]
    public async Task Lease_expiry_is_compared_as_an_instant_whatever_offset_it_was_written_with()
    {
        using var store = _database.Open();
        var run = NewRun(T0);
        await store.CreateRunAsync(run, Ct);
        var now = new DateTimeOffset(2026, 5, 1, 12, 0, 0, Pacific);       // 19:00 UTC
        var claimed = (await store.TryClaimRunAsync(run.Id, "west", now, now.AddMinutes(30), Ct))!;

        // 19:10 UTC is before the expiry (19:30 UTC) although its text sorts after "12:30-07:00".
        var early = new DateTimeOffset(2026, 5, 1, 19, 10, 0, TimeSpan.Zero);
        Assert.Null(await store.TryClaimRunAsync(run.Id, "east", early, early.AddMinutes(30), Ct));
        Assert.Null(await store.ClaimNextRunAsync("east", early, early.AddMinutes(30), Ct));

        var late = new DateTimeOffset(2026, 5, 1, 19, 31, 0, TimeSpan.Zero);
        var next = await store.ClaimNextRunAsync("east", late, late.AddMinutes(30), Ct);
        Assert.Equal((run.Id, "east", claimed.LeaseToken + 1), (next?.Id, next?.LeaseOwner, next?.LeaseToken));
        var stored = (await store.GetRunAsync(run.Id, Ct))!;
        Assert.Equal(late.AddMinutes(30), stored.LeaseExpiresAt);
        Assert.Equal(TimeSpan.Zero, stored.LeaseExpiresAt!.Value.Offset);
        Assert.Equal(now.AddMinutes(30).Offset, claimed.LeaseExpiresAt!.Value.Offset);
    }

    [Fact]
    public async Task Next_work_is_the_least_recently_updated_run_by_instant_not_by_text()
    {
        using var store = _database.Open();
        var pacific = NewRun(new DateTimeOffset(2026, 5, 1, 12, 0, 0, Pacific));   // 19:00 UTC, text "…12:00…"
        var utc = NewRun(new DateTimeOffset(2026, 5, 1, 18, 0, 0, TimeSpan.Zero));  // 18:00 UTC, text "…18:00…"
        await store.CreateRunAsync(pacific, Ct);
        await store.CreateRunAsync(utc, Ct);

        var now = T0.AddDays(1);
        var first = await store.ClaimNextRunAsync("worker", now, now.AddMinutes(1), Ct);
        var second = await store.ClaimNextRunAsync("worker", now, now.AddMinutes(1), Ct);

        Assert.Equal([utc.Id, pacific.Id], new[] { first?.Id, second?.Id });
    }

    [Fact]
    public async Task Upgrading_a_version_1_database_keeps_its_runs_and_continuations_and_makes_them_claimable()
    {
        var runId = Guid.NewGuid();
        var otherId = Guid.NewGuid();
        var checkpointId = Guid.NewGuid();
        using (var connection = OpenRaw())
        {
            using var command = connection.CreateCommand();
            command.CommandText = SqliteMigrator.Migrations[0].Sql + $"""
                CREATE TABLE schema_version (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
                INSERT INTO schema_version VALUES (1, '0001_initial', '2026-01-01T00:00:00.0000000+00:00');
                INSERT INTO runs (id, pipeline, owner_id, input, auto_continue, status, current_phase, current_branch, parent_checkpoint_id, error,
                                  cost, budget, created_at, created_ticks, updated_at)
                VALUES ('{runId}', 'video', 'owner', '{"{}"}', 0, 'Running', 2, 'main', NULL, NULL, '0.5', NULL,
                        '2026-05-01T12:00:00.0000000-07:00', 0, '2026-05-01T12:00:00.0000000-07:00'),
                       ('{otherId}', 'video', 'owner', '{"{}"}', 0, 'Queued', 1, NULL, NULL, NULL, '0', NULL,
                        '2026-05-01T18:00:00.0000000+00:00', 0, '2026-05-01T18:00:00.0000000+00:00');
                INSERT INTO branches (run_id, name, created_at) VALUES ('{runId}', 'main', '2026-05-01T12:00:00.0000000-07:00');
                INSERT INTO checkpoints (id, run_id, branch, phase, version, status, created_at, cost, consumed)
                VALUES ('{checkpointId}', '{runId}', 'main', 1, 1, 'Approved', '2026-05-01T12:00:00.0000000-07:00', '0', '[]');
                INSERT INTO continuations (checkpoint_id, fingerprint, branch, branch_created, created_at)
                VALUES ('{checkpointId}', 'fp', 'main', 0, '2026-05-01T12:00:00.0000000-07:00');
                """;
            command.ExecuteNonQuery();
        }

        using var store = _database.Open();
        Assert.Equal(SqliteMigrator.LatestVersion - 1, await store.MigrateAsync(Ct));

        var run = (await store.GetRunAsync(runId, Ct))!;
        Assert.Equal((null, null, 0L, 0.5m), (run.LeaseOwner, run.LeaseExpiresAt, run.LeaseToken, run.Cost));
        var continuation = Assert.Single(await store.ListContinuationsAsync(checkpointId, Ct));
        Assert.Equal((0L, "main", (string?)null, (string?)null), (continuation.Revision, continuation.Branch, continuation.RequestedBy, continuation.Description));

        // The interrupted run (updated 19:00 UTC) is younger than the queued one (18:00 UTC): the backfilled ticks order them.
        var now = T0.AddDays(1);
        var first = await store.ClaimNextRunAsync("worker", now, now.AddMinutes(1), Ct);
        var second = await store.ClaimNextRunAsync("worker", now, now.AddMinutes(1), Ct);
        Assert.Equal([otherId, runId], new[] { first?.Id, second?.Id });
        Assert.Equal(1L, second?.LeaseToken);
    }

    [Fact]
    public async Task Events_keep_their_payload_text_verbatim_and_refuse_a_bad_type_without_writing()
    {
        using var store = _database.Open();
        var runId = Guid.NewGuid();
        const string Payload = """{ "unit" : 3,  "note": "caf\u00e9 ☕" }""";

        var sequence = await store.AppendEventAsync(runId, "unit_completed", Payload, new DateTimeOffset(2026, 5, 1, 12, 0, 0, Pacific), Ct);
        await Assert.ThrowsAsync<ArgumentException>(() => store.AppendEventAsync(runId, "", Payload, T0, Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => store.AppendEventAsync(runId, new string('t', 65), Payload, T0, Ct));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.ReadEventsAsync(null, 0, 0, Ct));

        var stored = Assert.Single(await store.ReadEventsAsync(null, 0, 100, Ct));
        Assert.Equal(new StoredEvent(sequence, runId, "unit_completed", Payload, new DateTimeOffset(2026, 5, 1, 12, 0, 0, Pacific)), stored);
        Assert.Equal(Pacific, stored.At.Offset);
    }
}
