namespace Checkpointing.Storage;

/// <summary>The mutable state of a run, written by the runner.</summary>
/// <param name="Status">The status.</param>
/// <param name="Phase">The phase running or awaiting review.</param>
/// <param name="Branch">The branch of that phase.</param>
/// <param name="ParentCheckpointId">The checkpoint that phase continues from.</param>
/// <param name="Error">The error, for <see cref="RunStatus.Failed"/>.</param>
public sealed record RunState(RunStatus Status, int? Phase, string? Branch, Guid? ParentCheckpointId, string? Error = null)
{
    /// <summary>
    /// The fencing token of the executor making the change. A store applies the change only while the run's
    /// <see cref="Run.LeaseToken"/> equals it, and otherwise throws <see cref="LeaseLostException"/> and changes nothing.
    /// Null for a change made outside any lease (a cancellation, a queued start): it ends the current lease and bumps the
    /// token, so the executor that held it is fenced out.
    /// </summary>
    public long? FencingToken { get; init; }

    /// <summary>When true (with <see cref="FencingToken"/>), the executor's lease ends with this change.</summary>
    public bool ReleaseLease { get; init; }
}
