namespace Checkpointing.Storage;

/// <summary>
/// What <see cref="ICheckpointStore.ContinueAsync"/> does, as pure functions every store calls inside its transaction:
/// the store reads the checkpoint, any record of the same revision and the run, asks <see cref="Decide"/>, and writes
/// what the returned plan says. The rules live here once; the stores only load and save.
/// </summary>
public static class ContinuationRules
{
    /// <summary>
    /// Decides a continuation: the existing record when there is one (nothing is written); otherwise checks that the
    /// checkpoint can be continued at the revision and that the fencing token is the run's, and plans the writes.
    /// </summary>
    /// <param name="request">The request.</param>
    /// <param name="checkpoint">The checkpoint as stored.</param>
    /// <param name="existing">The record of (checkpoint, revision), when there is one.</param>
    /// <param name="run">The checkpoint's run as stored; a store may pass null when it found an existing record.</param>
    /// <returns>The existing record, or the plan of a new one.</returns>
    /// <exception cref="CheckpointAbandonedException">The checkpoint was abandoned.</exception>
    /// <exception cref="InvalidStateException">The revision is negative or above the checkpoint's.</exception>
    /// <exception cref="LeaseLostException">The request's fencing token is not the run's.</exception>
    public static ContinuationPlan Decide(ContinuationRequest request, Checkpoint checkpoint, Continuation? existing, Run? run)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(checkpoint);
        if (existing is not null)
        {
            return new ContinuationPlan(existing with { Existing = true }, CreateBranch: false, Approve: false, null);
        }

        ArgumentNullException.ThrowIfNull(run);

        if (checkpoint.Status == CheckpointStatus.Abandoned)
        {
            throw new CheckpointAbandonedException(checkpoint.Id);
        }

        if (request.Revision < 0 || request.Revision > checkpoint.Revision)
        {
            throw new InvalidStateException(
                $"Checkpoint '{checkpoint.Id}' is at revision {checkpoint.Revision}; it cannot be continued at revision {request.Revision}. Read the checkpoint again and continue at its revision.");
        }

        RunLease.CheckFence(run, request.FencingToken);
        var record = new Continuation(checkpoint.Id, request.Revision, checkpoint.Branch, request.Fork, request.At, Existing: false)
        {
            RequestedBy = request.RequestedBy,
            Description = request.Description,
        };
        return new ContinuationPlan(record, request.Fork, checkpoint.Status == CheckpointStatus.Pending, run);
    }

    /// <summary>
    /// The run as it stands after a new continuation on <paramref name="branch"/> (the checkpoint's own, or the child
    /// branch the store created): running (or queued) at the next phase with the checkpoint as parent. An unfenced
    /// continuation keeps whatever lease the run has; a fenced queued one releases the continuer's lease so a worker can
    /// claim the run.
    /// </summary>
    /// <param name="request">The request.</param>
    /// <param name="checkpoint">The checkpoint continued.</param>
    /// <param name="run">The run as stored.</param>
    /// <param name="branch">The branch the next phase runs on.</param>
    public static Run NextRun(ContinuationRequest request, Checkpoint checkpoint, Run run, string branch)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(run);
        var state = new RunState(request.Queue ? RunStatus.Queued : RunStatus.Running, checkpoint.Phase + 1, branch, checkpoint.Id)
        {
            FencingToken = request.FencingToken ?? run.LeaseToken,
            ReleaseLease = request.Queue && request.FencingToken is not null,
        };
        return RunLease.Apply(run, state, request.At);
    }
}

/// <summary>What a store writes for a continuation (see <see cref="ContinuationRules.Decide"/>).</summary>
/// <param name="Record">
/// The record: when <see cref="Record"/>.<see cref="Continuation.Existing"/> is true, the earlier one, and nothing is
/// written; else the new one, whose <see cref="Continuation.Branch"/> is the checkpoint's branch unless
/// <see cref="CreateBranch"/> is set.
/// </param>
/// <param name="CreateBranch">Whether to create a child branch of the checkpoint's (and record it as the continuation's branch).</param>
/// <param name="Approve">Whether to approve the pending checkpoint.</param>
/// <param name="Run">The run as read, for <see cref="ContinuationRules.NextRun"/>; null for an existing record.</param>
public sealed record ContinuationPlan(Continuation Record, bool CreateBranch, bool Approve, Run? Run);
