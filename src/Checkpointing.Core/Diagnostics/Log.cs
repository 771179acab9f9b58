using Microsoft.Extensions.Logging;

namespace Checkpointing;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Run {RunId} started on pipeline {Pipeline} (auto-continue: {AutoContinue})")]
    public static partial void RunStarted(this ILogger logger, Guid runId, string pipeline, bool autoContinue);

    [LoggerMessage(2, LogLevel.Information, "Run {RunId}: phase {Phase} ({PhaseName}) started on branch {Branch}")]
    public static partial void PhaseStarted(this ILogger logger, Guid runId, int phase, string phaseName, string branch);

    [LoggerMessage(3, LogLevel.Information, "Run {RunId}: checkpoint {CheckpointId} committed for phase {Phase} on branch {Branch} (cost {Cost})")]
    public static partial void CheckpointCommitted(this ILogger logger, Guid runId, Guid checkpointId, int phase, string branch, decimal cost);

    [LoggerMessage(4, LogLevel.Error, "Run {RunId}: phase {Phase} failed")]
    public static partial void PhaseFailed(this ILogger logger, Exception exception, Guid runId, int phase);

    [LoggerMessage(5, LogLevel.Information, "Run {RunId}: phase {Phase} resumes with {Done} of {Total} units already done")]
    public static partial void ResumingUnits(this ILogger logger, Guid runId, int phase, int done, int total);

    [LoggerMessage(6, LogLevel.Information, "Run {RunId}: branch {Branch} forked from {ParentBranch} at checkpoint {CheckpointId}")]
    public static partial void BranchForked(this ILogger logger, Guid runId, string branch, string parentBranch, Guid checkpointId);

    [LoggerMessage(7, LogLevel.Information, "Checkpoint {CheckpointId}: {Kind} edit of {Type}/{Key}, now version {Version}")]
    public static partial void ArtifactEdited(this ILogger logger, Guid checkpointId, EditKinds kind, string type, string key, int version);

    [LoggerMessage(8, LogLevel.Information, "{Backend}: job {JobId} submitted for model {Model} (run {RunId}, slot {Slot})")]
    public static partial void JobSubmitted(this ILogger logger, string backend, string jobId, string model, Guid runId, string slot);

    [LoggerMessage(9, LogLevel.Information, "{Backend}: re-attaching to job {JobId} (run {RunId}, slot {Slot})")]
    public static partial void ReattachingJob(this ILogger logger, string backend, string jobId, Guid runId, string slot);

    [LoggerMessage(10, LogLevel.Warning, "Publishing {EventType} for run {RunId} failed")]
    public static partial void EventPublishFailed(this ILogger logger, Exception exception, string eventType, Guid runId);

    [LoggerMessage(11, LogLevel.Information, "Run {RunId} cancelled")]
    public static partial void RunCancelled(this ILogger logger, Guid runId);

    [LoggerMessage(12, LogLevel.Information, "Run {RunId} completed (cost {Cost})")]
    public static partial void RunCompleted(this ILogger logger, Guid runId, decimal cost);

    [LoggerMessage(13, LogLevel.Debug, "Edit of {Type}/{Key} at checkpoint {CheckpointId} lost a race (attempt {Attempt}); re-applying")]
    public static partial void EditConflictRetry(this ILogger logger, Guid checkpointId, string type, string key, int attempt);

    [LoggerMessage(14, LogLevel.Information, "Blob garbage collection deleted {Deleted} of {Scanned} blobs")]
    public static partial void BlobsCollected(this ILogger logger, int deleted, int scanned);

    [LoggerMessage(30, LogLevel.Information, "Run {RunId}: budget set to {Budget}")]
    public static partial void BudgetSet(this ILogger logger, Guid runId, decimal? budget);

    [LoggerMessage(40, LogLevel.Warning, "Run {RunId}: lease under fencing token {Token} lost (now {CurrentToken}, run {Status}); this executor stops and leaves the run to its new owner")]
    public static partial void LeaseLost(this ILogger logger, Guid runId, long token, long currentToken, string status);

    [LoggerMessage(41, LogLevel.Warning, "Run {RunId}: renewing the lease failed; trying again at the next heartbeat")]
    public static partial void LeaseRenewFailed(this ILogger logger, Exception exception, Guid runId);

    [LoggerMessage(42, LogLevel.Warning, "Run {RunId}: releasing the lease failed; it will expire instead")]
    public static partial void LeaseReleaseFailed(this ILogger logger, Exception exception, Guid runId);

    [LoggerMessage(43, LogLevel.Warning, "Run {RunId}: reading the run after a lost lease failed")]
    public static partial void LeaseCheckFailed(this ILogger logger, Exception exception, Guid runId);

    [LoggerMessage(44, LogLevel.Information, "Run {RunId}: interrupted at phase {Phase} (the caller or host stopped); jobs in flight keep running and are re-attached when the run resumes")]
    public static partial void RunInterrupted(this ILogger logger, Guid runId, int phase);

    [LoggerMessage(45, LogLevel.Information, "{Backend}: cancelling job {JobId} of cancelled run {RunId}")]
    public static partial void CancellingJob(this ILogger logger, string backend, string jobId, Guid runId);

    [LoggerMessage(46, LogLevel.Warning, "{Backend}: cancelling job {JobId} failed")]
    public static partial void CancelJobFailed(this ILogger logger, Exception exception, string backend, string jobId);

    [LoggerMessage(47, LogLevel.Information, "Worker {Owner} claimed run {RunId} (phase {Phase}, {Status})")]
    public static partial void RunClaimed(this ILogger logger, string owner, Guid runId, int phase, RunStatus status);

    [LoggerMessage(48, LogLevel.Error, "Worker {Owner}: executing run {RunId} failed")]
    public static partial void WorkerExecutionFailed(this ILogger logger, Exception exception, string owner, Guid runId);

    [LoggerMessage(49, LogLevel.Warning, "Worker {Owner}: claiming work failed; trying again")]
    public static partial void WorkerClaimFailed(this ILogger logger, Exception exception, string owner);

    [LoggerMessage(50, LogLevel.Information, "Run {RunId} queued at phase {Phase} for a worker")]
    public static partial void RunQueued(this ILogger logger, Guid runId, int phase);
}
