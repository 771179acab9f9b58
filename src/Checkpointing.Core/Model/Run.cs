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
/// <param name="Id">The run id.</param>
/// <param name="Pipeline">The name of the pipeline the run executes.</param>
/// <param name="OwnerId">Who started the run (opaque to the SDK).</param>
/// <param name="Input">The run's input, as JSON.</param>
/// <param name="AutoContinue">When true, checkpoints are approved and the next phase starts without pausing.</param>
/// <param name="Status">The run's status.</param>
/// <param name="CurrentPhase">The phase running or awaiting review, if any.</param>
/// <param name="CurrentBranch">The branch of the phase running, awaiting review or last failed.</param>
/// <param name="ParentCheckpointId">The checkpoint the running (or last failed) phase continues from; null for phase 1.</param>
/// <param name="Error">The error of the last failure, when <see cref="Status"/> is <see cref="RunStatus.Failed"/>.</param>
/// <param name="Cost">The total cost of everything generated for this run.</param>
/// <param name="Budget">An optional spending limit; the runner stops before exceeding it.</param>
/// <param name="CreatedAt">When the run was created.</param>
/// <param name="UpdatedAt">When the run last changed.</param>
public sealed record Run(
    Guid Id,
    string Pipeline,
    string OwnerId,
    JsonElement Input,
    bool AutoContinue,
    RunStatus Status,
    int? CurrentPhase,
    string? CurrentBranch,
    Guid? ParentCheckpointId,
    string? Error,
    decimal Cost,
    decimal? Budget,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
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
