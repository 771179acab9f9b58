using Microsoft.Data.Sqlite;
using static Checkpointing.Sqlite.SqliteValues;

namespace Checkpointing.Sqlite;

/// <summary>
/// Run leases, continuations and the event log. Every lease decision is Core's (<see cref="RunLease"/>): a call reads
/// the run inside its <c>BEGIN IMMEDIATE</c> transaction, applies the rule and writes the result back, so a claim, a
/// renewal or a fenced write is atomic across every process on the file.
/// </summary>
public sealed partial class SqliteCheckpointStore
{
    /// <summary>The longest event type <see cref="AppendEventAsync"/> takes, as <see cref="ICheckpointStore.AppendEventAsync"/> documents.</summary>
    private const int MaxEventTypeLength = 64;

    private const string ContinuationColumns = "checkpoint_id, revision, branch, branch_created, created_at, requested_by, description";

    /// <inheritdoc />
    public Task<IReadOnlyList<Continuation>> ListContinuationsAsync(Guid checkpointId, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<Continuation>>((c, tx) => Query(c, tx, MapContinuation,
            $"SELECT {ContinuationColumns} FROM continuations WHERE checkpoint_id = $id ORDER BY rowid;", ("$id", checkpointId)), cancellationToken, snapshot: false);

    /// <inheritdoc />
    public Task<Run?> TryClaimRunAsync(Guid runId, string owner, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        RunLease.ValidateClaim(owner, now, expiresAt);
        return WriteAsync("TryClaimRun", (c, tx) =>
        {
            var claimed = RunLease.TryClaim(FindRun(c, tx, runId) ?? throw new RunNotFoundException(runId), owner, now, expiresAt);
            if (claimed is not null)
            {
                WriteRunState(c, tx, claimed);
            }

            return claimed;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<Run?> ClaimNextRunAsync(string owner, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        RunLease.ValidateClaim(owner, now, expiresAt);
        return WriteAsync("ClaimNextRun", (c, tx) =>
        {
            // RunLease.HasWork in SQL (queued or running, lease not held at now), on the ix_runs_work index, oldest update first.
            var next = QuerySingle(c, tx, MapRun, $"""
                SELECT {RunColumns} FROM runs
                WHERE status IN ('Queued', 'Running')
                  AND (lease_owner IS NULL OR lease_expires_ticks IS NULL OR lease_expires_ticks <= $now)
                ORDER BY updated_ticks, id
                LIMIT 1;
                """, ("$now", now.UtcTicks));
            if (next is null || !RunLease.HasWork(next, now))
            {
                return null;
            }

            var claimed = RunLease.TryClaim(next, owner, now, expiresAt);
            if (claimed is not null)
            {
                WriteRunState(c, tx, claimed);
            }

            return claimed;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task RenewLeaseAsync(Guid runId, long fencingToken, DateTimeOffset expiresAt, CancellationToken cancellationToken = default) =>
        WriteAsync("RenewLease", (c, tx) =>
        {
            var run = FindRun(c, tx, runId) ?? throw new RunNotFoundException(runId);
            if (run.LeaseToken != fencingToken || run.LeaseOwner is null)
            {
                throw new LeaseLostException(runId, fencingToken, run.LeaseToken, run.LeaseOwner);
            }

            WriteRunState(c, tx, run with { LeaseExpiresAt = expiresAt });
            return true;
        }, cancellationToken);

    /// <inheritdoc />
    public Task ReleaseLeaseAsync(Guid runId, long fencingToken, DateTimeOffset at, CancellationToken cancellationToken = default) =>
        WriteAsync("ReleaseLease", (c, tx) =>
        {
            // A stale token (or a run that is gone) releases nothing.
            if (FindRun(c, tx, runId) is { LeaseOwner: not null } run && run.LeaseToken == fencingToken)
            {
                WriteRunState(c, tx, run with { LeaseOwner = null, LeaseExpiresAt = at });
            }

            return true;
        }, cancellationToken);

    /// <inheritdoc />
    /// <exception cref="ArgumentException"><paramref name="type"/> is empty or longer than 64 characters.</exception>
    public Task<long> AppendEventAsync(Guid runId, string type, string payload, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(type);
        ArgumentNullException.ThrowIfNull(payload);
        if (type.Length > MaxEventTypeLength)
        {
            throw new ArgumentException($"An event type is at most {MaxEventTypeLength} characters; this one has {type.Length}.", nameof(type));
        }

        return WriteAsync("AppendEvent", (c, tx) =>
        {
            using var command = Command(c, tx, "INSERT INTO events (run_id, type, payload, at) VALUES ($run, $type, $payload, $at) RETURNING sequence;",
                ("$run", runId), ("$type", type), ("$payload", payload), ("$at", at));
            return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<StoredEvent>> ReadEventsAsync(Guid? runId, long afterSequence, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        return ReadAsync<IReadOnlyList<StoredEvent>>((c, tx) => Query(c, tx,
            r => new StoredEvent(r.GetInt64(0), Guid(r, 1), r.GetString(2), r.GetString(3), Time(r, 4)), """
            SELECT sequence, run_id, type, payload, at FROM events
            WHERE sequence > $after AND ($run IS NULL OR run_id = $run)
            ORDER BY sequence
            LIMIT $limit;
            """, ("$after", afterSequence), ("$run", runId), ("$limit", limit)), cancellationToken, snapshot: false);
    }

    /// <inheritdoc />
    public Task<long> GetLastEventSequenceAsync(Guid? runId, CancellationToken cancellationToken = default) =>
        ReadAsync((c, tx) =>
        {
            // Two statements, so that each is answered from an index (ix_events_run or the primary key) alone.
            using var command = runId is null
                ? Command(c, tx, "SELECT COALESCE(MAX(sequence), 0) FROM events;")
                : Command(c, tx, "SELECT COALESCE(MAX(sequence), 0) FROM events WHERE run_id = $run;", ("$run", runId));
            return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }, cancellationToken);

    /// <summary>Writes a run's state and lease as Core computed them (cost and budget are written by their own calls).</summary>
    private static void WriteRunState(SqliteConnection c, SqliteTransaction tx, Run run) =>
        Execute(c, tx, """
            UPDATE runs SET status = $status, current_phase = $phase, current_branch = $branch, parent_checkpoint_id = $parent,
                error = $error, updated_at = $updated, updated_ticks = $updated_ticks,
                lease_owner = $lease_owner, lease_expires_at = $lease_expires, lease_expires_ticks = $lease_expires_ticks, lease_token = $lease_token
            WHERE id = $id;
            """,
            ("$id", run.Id), ("$status", run.Status), ("$phase", run.CurrentPhase), ("$branch", run.CurrentBranch),
            ("$parent", run.ParentCheckpointId), ("$error", run.Error), ("$updated", run.UpdatedAt), ("$updated_ticks", run.UpdatedAt.UtcTicks),
            ("$lease_owner", run.LeaseOwner), ("$lease_expires", run.LeaseExpiresAt), ("$lease_expires_ticks", run.LeaseExpiresAt?.UtcTicks),
            ("$lease_token", run.LeaseToken));

    private static Continuation MapContinuation(SqliteDataReader r) =>
        new(Guid(r, 0), r.GetInt64(1), r.GetString(2), r.GetInt64(3) != 0, Time(r, 4), Existing: false)
        {
            RequestedBy = NullableString(r, 5),
            Description = NullableString(r, 6),
        };
}
