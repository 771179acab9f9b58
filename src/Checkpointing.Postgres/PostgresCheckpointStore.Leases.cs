namespace Checkpointing.Postgres;

public sealed partial class PostgresCheckpointStore
{
    /// <summary>The longest event type <see cref="AppendEventAsync"/> accepts.</summary>
    private const int MaxEventTypeLength = 64;

    /// <summary>A lease is held (by anyone) at <c>@now</c>: <see cref="RunLease.IsHeld"/> in SQL.</summary>
    private const string LeaseHeldSql = "(lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL AND lease_expires_at > @now)";

    /// <inheritdoc />
    public Task<IReadOnlyList<Continuation>> ListContinuationsAsync(Guid checkpointId, CancellationToken cancellationToken = default) =>
        InTransactionAsync<IReadOnlyList<Continuation>>("ListContinuations", async db => await QueryAsync(db, MapContinuation,
            $"SELECT {ContinuationColumns} FROM {_s}.continuations WHERE checkpoint_id = @id ORDER BY seq;", ("id", checkpointId)).ConfigureAwait(false),
            cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// One conditional <c>UPDATE … WHERE</c> the lease is not held <c>… RETURNING</c>. A concurrent claim of the same run
    /// waits for the row and then re-checks the condition against the committed claim, so exactly one of them wins. Safe
    /// to retry after a transient error: an attempt that did not commit changed nothing, and the next one decides anew.
    /// </remarks>
    public Task<Run?> TryClaimRunAsync(Guid runId, string owner, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        RunLease.ValidateClaim(owner, now, expiresAt);
        return InOneTripAsync("TryClaimRun", async db =>
        {
            var claimed = await QuerySingleAsync(db, MapRun, $"""
                UPDATE {_s}.runs SET lease_owner = @owner, lease_expires_at = @expires, lease_token = lease_token + 1
                WHERE id = @id AND NOT {LeaseHeldSql}
                RETURNING {RunColumns};
                """, ("id", runId), ("owner", owner), ("now", now), ("expires", expiresAt)).ConfigureAwait(false);
            if (claimed is null && await ScalarAsync(db, $"SELECT 1 FROM {_s}.runs WHERE id = @id;", ("id", runId)).ConfigureAwait(false) is null)
            {
                throw new RunNotFoundException(runId);
            }

            return claimed;
        }, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// One statement: the least recently updated queued or running run whose lease is not held is selected from the
    /// work-state index <c>FOR UPDATE SKIP LOCKED</c> and claimed. Concurrent claimers skip each other's candidate rows
    /// instead of waiting for them, so each gets a different run (or none). A row updated since the statement began is
    /// re-checked against its committed version before it is locked. Safe to retry like <see cref="TryClaimRunAsync"/>.
    /// </remarks>
    public Task<Run?> ClaimNextRunAsync(string owner, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        RunLease.ValidateClaim(owner, now, expiresAt);
        return InOneTripAsync("ClaimNextRun", db => QuerySingleAsync(db, MapRun, $"""
            WITH next AS (
                SELECT id AS claim_id FROM {_s}.runs
                WHERE status IN ('Queued', 'Running') AND NOT {LeaseHeldSql}
                ORDER BY updated_at, id
                LIMIT 1
                FOR UPDATE SKIP LOCKED
            )
            UPDATE {_s}.runs SET lease_owner = @owner, lease_expires_at = @expires, lease_token = lease_token + 1
            FROM next
            WHERE id = next.claim_id
            RETURNING {RunColumns};
            """, ("owner", owner), ("now", now), ("expires", expiresAt)), cancellationToken);
    }

    /// <inheritdoc />
    public Task RenewLeaseAsync(Guid runId, long fencingToken, DateTimeOffset expiresAt, CancellationToken cancellationToken = default) =>
        InOneTripAsync("RenewLease", async db =>
        {
            var renewed = await ExecuteAsync(db, $"""
                UPDATE {_s}.runs SET lease_expires_at = @expires
                WHERE id = @id AND lease_token = @token AND lease_owner IS NOT NULL;
                """, ("id", runId), ("token", fencingToken), ("expires", expiresAt)).ConfigureAwait(false);
            if (renewed == 0)
            {
                var run = await FindRunAsync(db, runId).ConfigureAwait(false) ?? throw new RunNotFoundException(runId);
                throw new LeaseLostException(runId, fencingToken, run.LeaseToken, run.LeaseOwner);
            }

            return true;
        }, cancellationToken);

    /// <inheritdoc />
    public Task ReleaseLeaseAsync(Guid runId, long fencingToken, DateTimeOffset at, CancellationToken cancellationToken = default) =>
        InOneTripAsync("ReleaseLease", async db =>
        {
            // One statement: the release, and the wake-up of idle workers when the run is left with work to claim.
            await ExecuteAsync(db, $"""
                WITH released AS (
                    UPDATE {_s}.runs SET lease_owner = NULL, lease_expires_at = @at
                    WHERE id = @id AND lease_token = @token AND lease_owner IS NOT NULL
                    RETURNING status)
                SELECT pg_notify(@channel, @payload) FROM released WHERE status IN ('Queued', 'Running');
                """, ("id", runId), ("token", fencingToken), ("at", at), ("channel", NotificationChannel), ("payload", WorkNotification)).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// Readers poll "sequence &gt; last seen", so a sequence must never become visible after a greater one: a reader that
    /// saw 8 would never look at 7 again. A <c>bigserial</c> alone cannot promise that, because two transactions may take
    /// 7 and 8 and commit in the opposite order. So the sequence comes from the single row of <c>event_counter</c>,
    /// updated in the appending transaction: the row stays locked until that transaction commits, the next append waits
    /// for it, and sequences are taken and made visible in one order (without gaps). The NOTIFY is sent in the same
    /// transaction, so a woken reader finds the event. Appends are serialised across the store; each holds the counter
    /// only for the length of its own short transaction.
    /// </remarks>
    public Task<long> AppendEventAsync(Guid runId, string type, string payload, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(type);
        ArgumentNullException.ThrowIfNull(payload);
        if (type.Length > MaxEventTypeLength)
        {
            throw new ArgumentException($"An event type is at most {MaxEventTypeLength} characters; this one has {type.Length}.", nameof(type));
        }

        return InTransactionAsync("AppendEvent", async db =>
        {
            var sequence = (long)(await ScalarAsync(db, $"""
                WITH next AS (
                    INSERT INTO {_s}.event_counter (id, last) VALUES (true, 1)
                    ON CONFLICT (id) DO UPDATE SET last = event_counter.last + 1
                    RETURNING last
                )
                INSERT INTO {_s}.events (sequence, run_id, type, payload, at)
                SELECT last, @run, @type, @payload, @at FROM next
                RETURNING sequence;
                """, ("run", runId), ("type", type), ("payload", payload), ("at", at)).ConfigureAwait(false))!;
            await NotifyAsync(db, EventNotification).ConfigureAwait(false);
            return sequence;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<StoredEvent>> ReadEventsAsync(Guid? runId, long afterSequence, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        return InTransactionAsync<IReadOnlyList<StoredEvent>>("ReadEvents", async db => await QueryAsync(db,
            r => new StoredEvent(r.GetInt64(0), r.GetGuid(1), r.GetString(2), r.GetString(3), Time(r, 4)), $"""
            SELECT sequence, run_id, type, payload, at FROM {_s}.events
            WHERE sequence > @after AND (@run::uuid IS NULL OR run_id = @run::uuid)
            ORDER BY sequence
            LIMIT @limit;
            """, ("run", runId), ("after", afterSequence), ("limit", limit)).ConfigureAwait(false), cancellationToken);
    }

    /// <inheritdoc />
    public Task<long> GetLastEventSequenceAsync(Guid? runId, CancellationToken cancellationToken = default) =>
        InTransactionAsync("GetLastEventSequence", async db => Convert.ToInt64(runId is null
            ? await ScalarAsync(db, $"SELECT COALESCE(MAX(sequence), 0) FROM {_s}.events;").ConfigureAwait(false)
            : await ScalarAsync(db, $"SELECT COALESCE(MAX(sequence), 0) FROM {_s}.events WHERE run_id = @run;", ("run", runId)).ConfigureAwait(false),
            System.Globalization.CultureInfo.InvariantCulture), cancellationToken);

    /// <summary>
    /// Builds the exception for a fenced write whose condition matched no row: <see cref="RunNotFoundException"/> when the
    /// run does not exist, else <see cref="LeaseLostException"/> with the run's current token and owner.
    /// </summary>
    private async Task<Exception> FenceFailureAsync(Db db, Guid runId, long? fencingToken)
    {
        var run = await FindRunAsync(db, runId).ConfigureAwait(false);
        return run is null
            ? new RunNotFoundException(runId)
            : new LeaseLostException(runId, fencingToken ?? run.LeaseToken, run.LeaseToken, run.LeaseOwner);
    }
}
