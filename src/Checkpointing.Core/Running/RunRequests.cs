using System.Text.Json;

namespace Checkpointing;

/// <summary>What to start.</summary>
/// <param name="Pipeline">The registered pipeline's name.</param>
/// <param name="OwnerId">Who starts the run.</param>
/// <param name="Input">The run's input as JSON.</param>
public sealed record StartRunRequest(string Pipeline, string OwnerId, JsonElement Input)
{
    /// <summary>When true, every checkpoint is approved and the next phase starts without pausing.</summary>
    /// <value>Default: false.</value>
    public bool AutoContinue { get; init; }

    /// <summary>An optional spending limit for the whole run.</summary>
    /// <value>Default: none.</value>
    public decimal? Budget { get; init; }

    /// <summary>The run id to use; default: a new id.</summary>
    public Guid? RunId { get; init; }

    /// <summary>
    /// When true, the run is created <see cref="RunStatus.Queued"/> and the call returns at once: a
    /// <c>CheckpointWorker</c> (in this or another process) executes it. When false, phase 1 executes inside the call.
    /// </summary>
    /// <value>Default: false.</value>
    public bool Queue { get; init; }
}

/// <summary>Where a run stands after the runner returned.</summary>
/// <param name="Run">The run as stored.</param>
/// <param name="Checkpoint">The last checkpoint committed by this call, if any.</param>
public sealed record RunResult(Run Run, Checkpoint? Checkpoint)
{
    /// <summary>The run's status.</summary>
    public RunStatus Status => Run.Status;
}

/// <summary>Options for continuing a checkpoint.</summary>
/// <param name="RequestedBy">Who continues it (recorded as the new checkpoint's creator).</param>
/// <param name="Description">A description of the edits, recorded on the new checkpoint.</param>
public sealed record ContinueOptions(string? RequestedBy = null, string? Description = null)
{
    /// <summary>
    /// When true, the continuation is recorded, the run is left <see cref="RunStatus.Queued"/> at the next phase and the
    /// call returns at once: a <c>CheckpointWorker</c> executes the phase. When false, the phase executes inside the call.
    /// </summary>
    /// <value>Default: false.</value>
    public bool Queue { get; init; }
}

/// <summary>The outcome of continuing a checkpoint.</summary>
/// <param name="NextPhase">The phase that ran (or had run) next.</param>
/// <param name="Branch">The branch it ran on.</param>
/// <param name="BranchCreated">Whether a branch was forked for it.</param>
/// <param name="Checkpoint">The checkpoint the next phase produced, when it finished.</param>
/// <param name="Run">The run as stored after the call.</param>
/// <param name="AlreadyContinued">
/// True when the checkpoint had been continued in this state before, by this or another caller: the call waited for
/// that continuation's phase instead of running it again (or, in queued mode, returned where it stands).
/// </param>
public sealed record ContinueResult(int NextPhase, string Branch, bool BranchCreated, Checkpoint? Checkpoint, Run Run, bool AlreadyContinued)
{
    /// <summary>The run's status after the call (as <see cref="RunResult.Status"/>).</summary>
    public RunStatus Status => Run.Status;
}
