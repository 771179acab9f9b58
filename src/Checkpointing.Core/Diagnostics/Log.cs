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
}
