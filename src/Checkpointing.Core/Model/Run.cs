using System.Text.Json;

namespace Checkpointing;

/// <summary>The lifecycle state of a <see cref="Run"/>.</summary>
public enum RunStatus
{
    /// <summary>
    /// Waiting for an executor: created, or continued in queued mode, with <see cref="Run.CurrentPhase"/> to run next. A
    /// <c>CheckpointWorker</c> (or a retry) claims it.
    /// </summary>
    Queued,
    /// <summary>
    /// A phase is executing (see <see cref="Run.CurrentPhase"/>) under the lease of <see cref="Run.LeaseOwner"/>. When
    /// the lease has ended without the phase finishing, the run is interrupted (see <see cref="Run.GetInterruptedSince"/>).
    /// </summary>
    Running,
    /// <summary>A checkpoint awaits review at <see cref="Run.CurrentPhase"/>.</summary>
    Paused,
    /// <summary>The terminal phase finished and its checkpoint was approved.</summary>
    Completed,
    /// <summary>A phase failed; see <see cref="Run.Error"/>. The run can be retried.</summary>
    Failed,
    /// <summary>The run was cancelled by a caller.</summary>
    Cancelled,
}

/// <summary>One execution of a pipeline for one input.</summary>
public sealed record Run
{
    /// <summary>The run id.</summary>
    public required Guid Id { get; init; }

    /// <summary>The name of the pipeline the run executes.</summary>
    public required string Pipeline { get; init; }

    /// <summary>Who started the run (opaque to the SDK).</summary>
    public required string OwnerId { get; init; }

    /// <summary>The run's input, as JSON.</summary>
    public required JsonElement Input { get; init; }

    /// <summary>When true, checkpoints are approved and the next phase starts without pausing.</summary>
    public bool AutoContinue { get; init; }

    /// <summary>The run's status.</summary>
    public RunStatus Status { get; init; }

    /// <summary>The phase running or awaiting review, if any.</summary>
    public int? CurrentPhase { get; init; }

    /// <summary>The branch of the phase running, awaiting review or last failed.</summary>
    public string? CurrentBranch { get; init; }

    /// <summary>The checkpoint the running (or last failed) phase continues from; null for phase 1.</summary>
    public Guid? ParentCheckpointId { get; init; }

    /// <summary>The error of the last failure, when <see cref="Status"/> is <see cref="RunStatus.Failed"/>.</summary>
    public string? Error { get; init; }

    /// <summary>The total cost of everything generated for this run.</summary>
    public decimal Cost { get; init; }

    /// <summary>An optional spending limit; the runner stops before exceeding it.</summary>
    public decimal? Budget { get; init; }

    /// <summary>When the run was created.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the run last changed.</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>The executor that holds the run's lease (it alone may execute the run's phases), or null for none.</summary>
    public string? LeaseOwner { get; init; }

    /// <summary>When the lease of <see cref="LeaseOwner"/> ends unless renewed; when it was released, for a released lease.</summary>
    public DateTimeOffset? LeaseExpiresAt { get; init; }

    /// <summary>
    /// The fencing token of the latest claim: it grows with every claim (and with every change made outside the lease,
    /// such as a cancellation), and a store refuses an executor's write that carries an older one.
    /// </summary>
    public long LeaseToken { get; init; }

    /// <summary>Whether an executor holds the run's lease at <paramref name="now"/>.</summary>
    /// <param name="now">The time to judge the lease at.</param>
    public bool IsLeaseHeld(DateTimeOffset now) => RunLease.IsHeld(LeaseOwner, LeaseExpiresAt, now);

    /// <summary>
    /// When the run is <see cref="RunStatus.Running"/> but no executor holds its lease (the process executing it crashed,
    /// was stopped, or its caller stopped waiting): the time the lease ended. Null otherwise. An interrupted run is
    /// resumed by <c>RetryAsync</c>, by continuing its parent checkpoint again, or by a worker; finished units and
    /// submitted jobs are kept.
    /// </summary>
    /// <param name="now">The time to judge the lease at.</param>
    public DateTimeOffset? GetInterruptedSince(DateTimeOffset now) =>
        Status == RunStatus.Running && !IsLeaseHeld(now) ? LeaseExpiresAt ?? UpdatedAt : null;
}
