namespace Checkpointing.Storage;

/// <summary>The mutable state of a run, written by the runner.</summary>
/// <param name="Status">The status.</param>
/// <param name="Phase">The phase running or awaiting review.</param>
/// <param name="Branch">The branch of that phase.</param>
/// <param name="ParentCheckpointId">The checkpoint that phase continues from.</param>
/// <param name="Error">The error, for <see cref="RunStatus.Failed"/>.</param>
public sealed record RunState(RunStatus Status, int? Phase, string? Branch, Guid? ParentCheckpointId, string? Error = null);
