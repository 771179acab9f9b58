namespace Checkpointing.Storage;

/// <summary>
/// The lease rules every store applies the same way: who holds a run's lease, which runs have work for an executor, and
/// what a fenced write must match. Stores call these (or translate them one to one into their query language).
/// </summary>
public static class RunLease
{
    /// <summary>Whether a lease with this owner and expiry is held at <paramref name="now"/>.</summary>
    /// <param name="owner">The lease owner, or null.</param>
    /// <param name="expiresAt">When the lease ends.</param>
    /// <param name="now">The time to judge at.</param>
    public static bool IsHeld(string? owner, DateTimeOffset? expiresAt, DateTimeOffset now) =>
        owner is not null && expiresAt is { } expiry && expiry > now;

    /// <summary>
    /// Whether a run has work that an executor may claim at <paramref name="now"/>: it is <see cref="RunStatus.Queued"/>
    /// or <see cref="RunStatus.Running"/> (interrupted) and nobody holds its lease.
    /// </summary>
    /// <param name="run">The run.</param>
    /// <param name="now">The time to judge at.</param>
    public static bool HasWork(Run run, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(run);
        return run.Status is RunStatus.Queued or RunStatus.Running && !run.IsLeaseHeld(now);
    }

    /// <summary>
    /// Claims the run for <paramref name="owner"/> when nobody holds its lease: the next fencing token, the owner and the
    /// expiry. Returns null when the lease is held (by anyone, this owner included).
    /// </summary>
    /// <param name="run">The run as stored.</param>
    /// <param name="owner">The claiming executor.</param>
    /// <param name="now">The time of the claim.</param>
    /// <param name="expiresAt">When the new lease ends unless renewed.</param>
    public static Run? TryClaim(Run run, string owner, DateTimeOffset now, DateTimeOffset expiresAt)
    {
        ArgumentNullException.ThrowIfNull(run);
        ValidateClaim(owner, now, expiresAt);
        return run.IsLeaseHeld(now) ? null : run with { LeaseOwner = owner, LeaseExpiresAt = expiresAt, LeaseToken = run.LeaseToken + 1 };
    }

    /// <summary>Checks a claim's arguments: an owner of 1 to 200 characters, and an expiry after the claim time.</summary>
    /// <param name="owner">The claiming executor.</param>
    /// <param name="now">The time of the claim.</param>
    /// <param name="expiresAt">When the lease ends.</param>
    /// <exception cref="ArgumentException">The owner is empty or too long, or the expiry is not after <paramref name="now"/>.</exception>
    public static void ValidateClaim(string owner, DateTimeOffset now, DateTimeOffset expiresAt)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(owner);
        if (owner.Length > MaxOwnerLength)
        {
            throw new ArgumentException($"A lease owner is at most {MaxOwnerLength} characters; this one has {owner.Length}.", nameof(owner));
        }

        if (expiresAt <= now)
        {
            throw new ArgumentException($"A lease must end after it is taken ({expiresAt:O} is not after {now:O}).", nameof(expiresAt));
        }
    }

    /// <summary>The longest lease owner name a store must hold.</summary>
    public const int MaxOwnerLength = 200;

    /// <summary>Applies a run state change as every store must: checks the fence, then returns the run after the change.</summary>
    /// <param name="run">The run as stored.</param>
    /// <param name="state">The change.</param>
    /// <param name="at">The time of the change.</param>
    /// <exception cref="LeaseLostException">The change carries a fencing token that is not the run's.</exception>
    public static Run Apply(Run run, RunState state, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(state);
        var changed = run with
        {
            Status = state.Status,
            CurrentPhase = state.Phase,
            CurrentBranch = state.Branch,
            ParentCheckpointId = state.ParentCheckpointId,
            Error = state.Error,
            UpdatedAt = at,
        };
        if (state.FencingToken is not { } token)
        {
            // A change from outside the lease ends it and fences out whoever held it.
            return changed with { LeaseOwner = null, LeaseExpiresAt = run.LeaseOwner is null ? run.LeaseExpiresAt : at, LeaseToken = run.LeaseToken + 1 };
        }

        CheckFence(run, token);
        return state.ReleaseLease ? changed with { LeaseOwner = null, LeaseExpiresAt = at } : changed;
    }

    /// <summary>Throws <see cref="LeaseLostException"/> unless <paramref name="fencingToken"/> is null or the run's token.</summary>
    /// <param name="run">The run as stored.</param>
    /// <param name="fencingToken">The writer's token, or null for a write outside any lease.</param>
    /// <exception cref="LeaseLostException">The token is not the run's.</exception>
    public static void CheckFence(Run run, long? fencingToken)
    {
        ArgumentNullException.ThrowIfNull(run);
        CheckFence(run.Id, run.LeaseToken, run.LeaseOwner, fencingToken);
    }

    /// <summary>
    /// <see cref="CheckFence(Run, long?)"/> for a store that read only the run's lease columns (its token and owner).
    /// </summary>
    /// <param name="runId">The run.</param>
    /// <param name="leaseToken">The run's <see cref="Run.LeaseToken"/> as stored.</param>
    /// <param name="leaseOwner">The run's <see cref="Run.LeaseOwner"/> as stored.</param>
    /// <param name="fencingToken">The writer's token, or null for a write outside any lease.</param>
    /// <exception cref="LeaseLostException">The token is not the run's.</exception>
    public static void CheckFence(Guid runId, long leaseToken, string? leaseOwner, long? fencingToken)
    {
        if (fencingToken is { } token && token != leaseToken)
        {
            throw new LeaseLostException(runId, token, leaseToken, leaseOwner);
        }
    }
}

/// <summary>An event recorded in a store's event log, in the order of <see cref="Sequence"/>.</summary>
/// <param name="Sequence">The event's position in the store's log: it grows with every event, across runs.</param>
/// <param name="RunId">The run.</param>
/// <param name="Type">The event's kind, e.g. <c>unit_completed</c>.</param>
/// <param name="Payload">The event as JSON.</param>
/// <param name="At">When it happened.</param>
public sealed record StoredEvent(long Sequence, Guid RunId, string Type, string Payload, DateTimeOffset At);

/// <summary>
/// Implemented by stores that can wake a waiting process when something is written in another process (PostgreSQL
/// LISTEN/NOTIFY). Without it, workers and event subscribers poll.
/// </summary>
public interface ICheckpointStoreNotifications
{
    /// <summary>
    /// Waits until an event is appended or work is queued (in any process), or until <paramref name="timeout"/> passes.
    /// May return early; callers read the store afterwards.
    /// </summary>
    /// <param name="timeout">The longest wait.</param>
    /// <param name="cancellationToken">Ends the wait.</param>
    Task WaitForChangeAsync(TimeSpan timeout, CancellationToken cancellationToken = default);
}
