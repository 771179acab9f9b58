using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Npgsql;

namespace Checkpointing.Postgres.Tests;

/// <summary>
/// What the PostgreSQL store adds to leases and events beyond the conformance suite: LISTEN/NOTIFY between two stores on
/// two data sources (as two processes), the listener reopening after its connection died, an event log that a poller reads
/// without gaps while many writers append, claims retried after a serialization failure, and the upgrade of a version 1
/// schema.
/// </summary>
public sealed class LeaseAndEventTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>A wait long enough that a test cannot pass by timing out.</summary>
    private static readonly TimeSpan LongWait = TimeSpan.FromSeconds(30);

    /// <summary>How soon a notified waiter must wake (generous for a loaded machine, far below <see cref="LongWait"/>).</summary>
    private static readonly TimeSpan Quickly = TimeSpan.FromSeconds(10);

    private readonly string _schema = SchemaFixture.NewSchemaName();
    private readonly string _listenerApplication = "checkpointing-listen-" + Guid.NewGuid().ToString("N")[..8];
    private NpgsqlDataSource? _admin;
    private NpgsqlDataSource? _first;
    private NpgsqlDataSource? _second;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private NpgsqlDataSource Admin => _admin!;

    public async ValueTask InitializeAsync()
    {
        await PostgresServer.RequireAsync();
        _admin = PostgresServer.CreateDataSource("checkpointing-tests-admin");
        _first = PostgresServer.CreateDataSource("checkpointing-tests-a");
        _second = PostgresServer.CreateDataSource(_listenerApplication);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var source in new[] { _first, _second })
        {
            if (source is not null)
            {
                await source.DisposeAsync();
            }
        }

        if (_admin is not null)
        {
            await SchemaFixture.DropSchemaAsync(_admin, _schema);
            await _admin.DisposeAsync();
        }
    }

    private PostgresCheckpointStore Open(NpgsqlDataSource source, ListLoggerFactory? logs = null, int maxRetries = 10) =>
        new(source, new PostgresStoreOptions { SchemaName = _schema, MaxTransientRetries = maxRetries }, logs);

    /// <summary>Store A (the writer) and store B (the waiter) on two data sources; B's listener is connected on return.</summary>
    private async Task<(PostgresCheckpointStore A, PostgresCheckpointStore B)> OpenPairAsync(ListLoggerFactory? logs = null)
    {
        var a = Open(_first!);
        await a.MigrateAsync(Ct);
        var b = Open(_second!, logs);
        // The first wait opens the listening connection and returns once it listens (a change may have been missed before).
        await b.WaitForChangeAsync(LongWait, Ct);
        return (a, b);
    }

    private static JsonElement Json(string text)
    {
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    private static Run NewRun(RunStatus status = RunStatus.Queued) =>
        new()
        {
            Id = Guid.NewGuid(),
            Pipeline = "video",
            OwnerId = "owner",
            Input = Json("""{"prompt":"x"}"""),
            Status = status,
            CreatedAt = T0,
            UpdatedAt = T0,
        };

    /// <summary>Starts a long wait on <paramref name="waiter"/>, checks it is really waiting, runs <paramref name="change"/> and returns how long the wait took after it.</summary>
    private static async Task<TimeSpan> WakeTimeAsync(PostgresCheckpointStore waiter, Func<Task> change)
    {
        var wait = waiter.WaitForChangeAsync(LongWait, Ct);
        await Task.Delay(200, Ct);
        Assert.False(wait.IsCompleted, "The wait returned before anything changed.");
        var clock = Stopwatch.StartNew();
        await change();
        await wait;
        return clock.Elapsed;
    }

    [Fact]
    public async Task A_waiter_on_one_store_wakes_quickly_when_another_store_appends_an_event()
    {
        var (a, b) = await OpenPairAsync();
        await using var _ = a;
        await using var __ = b;
        var run = NewRun(RunStatus.Paused);
        await a.CreateRunAsync(run, Ct);

        long sequence = 0;
        var woke = await WakeTimeAsync(b, async () => sequence = await a.AppendEventAsync(run.Id, "unit_completed", """{"unit":1}""", T0, Ct));

        Assert.True(woke < Quickly, $"The waiter woke after {woke}, not on the notification.");
        var read = Assert.Single(await b.ReadEventsAsync(run.Id, 0, 10, Ct));
        Assert.Equal((sequence, "unit_completed", """{"unit":1}"""), (read.Sequence, read.Type, read.Payload));
    }

    [Fact]
    public async Task Work_that_becomes_claimable_wakes_a_waiting_worker_in_another_store()
    {
        var (a, b) = await OpenPairAsync();
        await using var _ = a;
        await using var __ = b;
        var queued = NewRun();
        var created = await WakeTimeAsync(b, () => a.CreateRunAsync(queued, Ct));

        var lease = (await a.TryClaimRunAsync(queued.Id, "api", T0, T0.AddMinutes(1), Ct))!;
        var released = await WakeTimeAsync(b, () => a.ReleaseLeaseAsync(queued.Id, lease.LeaseToken, T0.AddSeconds(1), Ct));

        var paused = NewRun(RunStatus.Paused);
        await a.CreateRunAsync(paused, Ct);
        var setRunning = await WakeTimeAsync(b, () => a.UpdateRunStateAsync(paused.Id, new RunState(RunStatus.Running, 2, "main", null), T0.AddSeconds(2), Ct));

        var checkpoint = await a.CommitCheckpointAsync(new NewCheckpoint
        {
            Id = Guid.NewGuid(),
            RunId = queued.Id,
            Branch = "main",
            Phase = 1,
            Artifacts = [new NewArtifact(Guid.NewGuid(), "spec", "spec", ArtifactContent.FromJson(Json("{}")), ArtifactMetadata.Empty)],
            CreatedAt = T0,
        }, Ct);
        var again = (await a.TryClaimRunAsync(queued.Id, "api", T0.AddSeconds(3), T0.AddMinutes(2), Ct))!;
        var continued = await WakeTimeAsync(b, () => a.ContinueAsync(
            new ContinuationRequest(checkpoint.Id, 0, Fork: false, T0.AddSeconds(4)) { FencingToken = again.LeaseToken, Queue = true }, Ct));

        Assert.All(new[] { created, released, setRunning, continued }, woke => Assert.True(woke < Quickly, $"A waiter woke after {woke}, not on the notification."));
    }

    [Fact]
    public async Task Changes_that_leave_no_claimable_work_do_not_wake_waiters()
    {
        var (a, b) = await OpenPairAsync();
        await using var _ = a;
        await using var __ = b;
        var run = NewRun(RunStatus.Paused);
        await a.CreateRunAsync(run, Ct);

        var clock = Stopwatch.StartNew();
        var wait = b.WaitForChangeAsync(TimeSpan.FromSeconds(1), Ct);
        var lease = (await a.TryClaimRunAsync(run.Id, "worker", T0, T0.AddMinutes(1), Ct))!;
        await a.RenewLeaseAsync(run.Id, lease.LeaseToken, T0.AddMinutes(2), Ct);
        await a.UpdateRunStateAsync(run.Id, new RunState(RunStatus.Running, 1, "main", null) { FencingToken = lease.LeaseToken }, T0.AddSeconds(1), Ct);
        await a.UpdateRunStateAsync(run.Id, new RunState(RunStatus.Paused, 1, "main", null) { FencingToken = lease.LeaseToken, ReleaseLease = true }, T0.AddSeconds(2), Ct);
        await wait;

        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(900), $"The wait returned after {clock.Elapsed} although no work became claimable.");
    }

    [Fact]
    public async Task The_listening_connection_is_opened_again_after_the_server_ended_it()
    {
        var logs = new ListLoggerFactory();
        var (a, b) = await OpenPairAsync(logs);
        await using var _ = a;
        await using var __ = b;
        var run = NewRun(RunStatus.Paused);
        await a.CreateRunAsync(run, Ct);

        // The server ends every session of B's data source, the listening one included (as a restart or a failover would).
        await using (var terminate = Admin.CreateCommand("SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = @app;"))
        {
            terminate.Parameters.AddWithValue("app", _listenerApplication);
            Assert.True((long)(await terminate.ExecuteScalarAsync(Ct))! >= 1);
        }

        // The listener notices, reconnects, and wakes the waiters (a change may have been missed meanwhile).
        var clock = Stopwatch.StartNew();
        await b.WaitForChangeAsync(LongWait, Ct);
        Assert.True(clock.Elapsed < Quickly, $"The listener took {clock.Elapsed} to reconnect.");
        var woke = await WakeTimeAsync(b, () => a.AppendEventAsync(run.Id, "phase_started", "{}", T0, Ct));

        Assert.True(woke < Quickly, $"The waiter woke after {woke}, not on the notification.");
        Assert.Contains(logs.Entries, e => e.Id.Id == 2010);
        Assert.True(logs.Entries.Count(e => e.Id.Id == 2009) >= 2);
    }

    [Fact]
    public async Task A_poller_reading_after_its_last_sequence_sees_every_event_while_many_writers_append()
    {
        await using var a = Open(_first!);
        await a.MigrateAsync(Ct);
        await using var b = Open(_second!);
        var run = NewRun(RunStatus.Paused);
        await a.CreateRunAsync(run, Ct);
        const int Writers = 8;
        const int PerWriter = 25;

        var appended = new ConcurrentBag<long>();
        var writers = Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            var store = w % 2 == 0 ? a : b;
            for (var i = 0; i < PerWriter; i++)
            {
                appended.Add(await store.AppendEventAsync(run.Id, "unit_completed", $$"""{"writer":{{w}},"i":{{i}}}""", T0, Ct));
            }
        }, Ct)));

        // The poller reads as a subscriber does: everything after the last sequence it saw.
        var seen = new List<long>();
        var last = 0L;
        while (true)
        {
            var done = writers.IsCompleted;
            var batch = await b.ReadEventsAsync(null, last, 7, Ct);
            seen.AddRange(batch.Select(e => e.Sequence));
            last = batch.Count > 0 ? batch[^1].Sequence : last;
            if (done && batch.Count == 0)
            {
                break;
            }
        }

        await writers;
        Assert.Equal(Writers * PerWriter, appended.Count);
        Assert.Equal(appended.Order(), seen);
        Assert.Equal(Enumerable.Range(1, Writers * PerWriter).Select(i => (long)i), seen);
    }

    [Theory]
    [InlineData("TryClaimRun")]
    [InlineData("ClaimNextRun")]
    public async Task A_claim_that_hits_a_serialization_failure_runs_again_and_takes_the_lease_once(string operation)
    {
        var logs = new ListLoggerFactory();
        await using var store = Open(_first!, logs);
        await store.MigrateAsync(Ct);
        var run = NewRun();
        await store.CreateRunAsync(run, Ct);
        await ExecuteAsync($"""
            CREATE SEQUENCE "{_schema}".forced_failures;
            CREATE FUNCTION "{_schema}".force_failure() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF nextval('"{_schema}".forced_failures') <= 2 THEN
                    RAISE EXCEPTION 'forced failure' USING ERRCODE = '40001';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER force_failure BEFORE UPDATE ON "{_schema}".runs FOR EACH ROW EXECUTE FUNCTION "{_schema}".force_failure();
            """);

        var claimed = operation == "TryClaimRun"
            ? await store.TryClaimRunAsync(run.Id, "worker", T0, T0.AddMinutes(1), Ct)
            : await store.ClaimNextRunAsync("worker", T0, T0.AddMinutes(1), Ct);

        Assert.Equal((run.Id, "worker", 1L), (claimed?.Id, claimed?.LeaseOwner, claimed?.LeaseToken));
        Assert.Equal(1L, (await store.GetRunAsync(run.Id, Ct))!.LeaseToken);
        Assert.Equal(2, logs.Entries.Count(e => e.Id.Id == 2005 && e.Message.StartsWith($"PostgreSQL {operation}: transient error 40001", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_version_1_schema_is_upgraded_with_its_runs_and_continuations_kept()
    {
        var runId = Guid.NewGuid();
        var checkpointId = Guid.NewGuid();
        await using (var connection = await Admin.OpenConnectionAsync(Ct))
        await using (var transaction = await connection.BeginTransactionAsync(Ct))
        {
            async Task RunAsync(string sql)
            {
                await using var command = new NpgsqlCommand(sql, connection, transaction);
                command.Parameters.AddWithValue("run", runId);
                command.Parameters.AddWithValue("checkpoint", checkpointId);
                command.Parameters.AddWithValue("at", T0.UtcDateTime);
                await command.ExecuteNonQueryAsync(Ct);
            }

            await RunAsync($"""
                CREATE SCHEMA "{_schema}";
                CREATE TABLE "{_schema}".schema_version (version integer NOT NULL PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL);
                SET LOCAL search_path TO "{_schema}";
                """);
            await RunAsync(PostgresMigrator.Migrations[0].Sql);
            await RunAsync($"""
                INSERT INTO "{_schema}".schema_version VALUES (1, '0001_initial', @at);
                INSERT INTO "{_schema}".runs (id, pipeline, owner_id, input, auto_continue, status, current_phase, current_branch, cost, created_at, updated_at)
                VALUES (@run, 'video', 'owner', jsonb_build_object(), false, 'Queued', 2, 'main', 0, @at, @at);
                INSERT INTO "{_schema}".branches (run_id, name, created_at) VALUES (@run, 'main', @at);
                INSERT INTO "{_schema}".checkpoints (id, run_id, branch, phase, version, status, created_at, cost, consumed)
                VALUES (@checkpoint, @run, 'main', 1, 1, 'Approved', @at, 0, '[]');
                INSERT INTO "{_schema}".continuations (checkpoint_id, fingerprint, branch, branch_created, created_at)
                VALUES (@checkpoint, 'v1', 'main', false, @at);
                """);
            await transaction.CommitAsync(Ct);
        }

        await using var store = Open(_first!);
        Assert.Equal(PostgresMigrator.LatestVersion - 1, await store.MigrateAsync(Ct));

        var run = (await store.GetRunAsync(runId, Ct))!;
        Assert.Equal((null, null, 0L), (run.LeaseOwner, run.LeaseExpiresAt, run.LeaseToken));
        var continuation = Assert.Single(await store.ListContinuationsAsync(checkpointId, Ct));
        Assert.Equal((0L, null, null), (continuation.Revision, continuation.RequestedBy, continuation.Description));
        Assert.Equal(1L, (await store.ClaimNextRunAsync("worker", T0, T0.AddMinutes(1), Ct))?.LeaseToken);
    }

    [Fact]
    public void The_notification_channel_is_named_after_the_schema_and_fits_in_an_identifier()
    {
        var longest = "s" + new string('x', 62);
        var sibling = "s" + new string('x', 61) + "y";

        Assert.Equal("checkpointing_changes", PostgresCheckpointStore.ChannelFor("checkpointing"));
        Assert.Equal(63, PostgresCheckpointStore.ChannelFor("a" + new string('b', 54)).Length);
        Assert.True(PostgresCheckpointStore.ChannelFor(longest).Length <= 63);
        Assert.NotEqual(PostgresCheckpointStore.ChannelFor(longest), PostgresCheckpointStore.ChannelFor(sibling));
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var command = Admin.CreateCommand(sql);
        await command.ExecuteNonQueryAsync(Ct);
    }
}
