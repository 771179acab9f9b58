using Checkpointing.Internal;

namespace Checkpointing;

/// <summary>
/// Starts runs, continues checkpoints, retries failed phases and cancels runs. Phases execute inside the call: each
/// method returns when the run pauses for review, completes, fails or is cancelled.
/// </summary>
public sealed class CheckpointRunner
{
    private readonly RunExecutor _executor;
    private readonly SdkServices _sdk;

    internal CheckpointRunner(RunExecutor executor)
    {
        _executor = executor;
        _sdk = executor.Sdk;
    }

    /// <summary>Creates a run and executes phase 1 (and, with auto-continue, every later phase).</summary>
    /// <param name="request">The pipeline, owner, input and options.</param>
    /// <param name="cancellationToken">Stops waiting; the phase is interrupted and the run can be retried.</param>
    /// <returns>The run after it paused, completed or failed. A phase failure is recorded on the run, not thrown.</returns>
    /// <exception cref="PipelineNotFoundException">No pipeline has that name.</exception>
    /// <exception cref="InvalidInputException">
    /// A field of the request is missing or malformed; <see cref="InputTooLargeException"/> and
    /// <see cref="UnsupportedCharacterException"/> name the field and the limit or character. Nothing is stored then.
    /// </exception>
    public async Task<RunResult> StartAsync(StartRunRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        Validate(request);

        var pipeline = _sdk.Pipelines.Get(request.Pipeline);
        var now = _sdk.Now;
        var run = new Run(
            request.RunId ?? Guid.NewGuid(), pipeline.Name, request.OwnerId, request.Input.Clone(), request.AutoContinue,
            RunStatus.Queued, null, null, null, null, 0m, request.Budget, now, now);
        await _sdk.Store.CreateRunAsync(run, cancellationToken).ConfigureAwait(false);
        _sdk.Log.RunStarted(run.Id, pipeline.Name, run.AutoContinue);
        return await _executor.ExecuteAsync(run.Id, 1, BranchNames.Main, null, request.OwnerId, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Approves <paramref name="checkpointId"/> and runs the next phase from it: on the same branch when none of its
    /// artifacts was edited, else on a new child branch. Continuing again with nothing changed since returns the same
    /// result without running the phase again.
    /// </summary>
    /// <param name="checkpointId">The checkpoint to continue.</param>
    /// <param name="options">Who continues it and why.</param>
    /// <param name="cancellationToken">Stops waiting; the phase is interrupted and the run can be retried.</param>
    /// <exception cref="CheckpointNotFoundException">The checkpoint does not exist.</exception>
    /// <exception cref="CheckpointAbandonedException">The checkpoint was abandoned.</exception>
    /// <exception cref="TerminalPhaseException">The checkpoint is at the terminal phase.</exception>
    /// <exception cref="RunStateException">The run was cancelled.</exception>
    /// <exception cref="InvalidInputException">A field of <paramref name="options"/> is too long or holds a character that cannot be stored.</exception>
    public async Task<ContinueResult> ContinueAsync(Guid checkpointId, ContinueOptions? options = null, CancellationToken cancellationToken = default)
    {
        InputRules.Text(options?.RequestedBy, "ContinueOptions.RequestedBy", _sdk.Options.MaxIdentityLength);
        InputRules.Text(options?.Description, "ContinueOptions.Description", _sdk.Options.MaxTextLength);
        var checkpoint = await _sdk.GetCheckpointAsync(checkpointId, cancellationToken).ConfigureAwait(false);
        var run = await _sdk.GetRunAsync(checkpoint.RunId, cancellationToken).ConfigureAwait(false);
        var pipeline = _sdk.Pipelines.Get(run.Pipeline);
        if (checkpoint.Status == CheckpointStatus.Abandoned)
        {
            throw new CheckpointAbandonedException(checkpoint.Id);
        }

        if (checkpoint.Phase >= pipeline.TerminalPhase)
        {
            throw new TerminalPhaseException(checkpoint.Id, checkpoint.Phase);
        }

        if (run.Status == RunStatus.Cancelled)
        {
            throw new RunStateException(run.Id, run.Status, "continuing a checkpoint");
        }

        var nextPhase = checkpoint.Phase + 1;
        if (_executor.IsActive(run.Id) && !(run.CurrentPhase == nextPhase && run.ParentCheckpointId == checkpoint.Id))
        {
            // Another phase of this run is executing here; refuse before anything is recorded.
            throw new InvalidStateException($"A phase of run '{run.Id}' is already running in this process; wait for it to pause or finish, then continue checkpoint '{checkpoint.Id}'.");
        }

        var continuation = await _executor.RecordContinuationAsync(checkpoint, cancellationToken).ConfigureAwait(false);
        if (continuation.Existing)
        {
            var child = await FindChildAsync(checkpoint, continuation.Branch, cancellationToken).ConfigureAwait(false);
            var current = await _sdk.GetRunAsync(run.Id, cancellationToken).ConfigureAwait(false);
            var underWay = current.Status == RunStatus.Running && current.CurrentPhase == nextPhase
                && current.CurrentBranch == continuation.Branch && current.ParentCheckpointId == checkpoint.Id;
            if (child is not null || underWay)
            {
                // Done, or running here or in another process (a crashed process leaves it Running: RetryAsync resumes it).
                return new ContinueResult(nextPhase, continuation.Branch, continuation.BranchCreated, child, current, AlreadyContinued: true);
            }

            // Recorded before, but the phase failed without a checkpoint: run it again (finished units are kept).
        }

        var approved = await _sdk.GetCheckpointAsync(checkpoint.Id, cancellationToken).ConfigureAwait(false);
        var result = await _executor.ExecuteAsync(run.Id, nextPhase, continuation.Branch, approved, options?.RequestedBy, options?.Description, cancellationToken).ConfigureAwait(false);
        var first = result.Checkpoint is null ? null : await FindChildAsync(checkpoint, continuation.Branch, cancellationToken).ConfigureAwait(false);
        return new ContinueResult(nextPhase, continuation.Branch, continuation.BranchCreated, first, result.Run, AlreadyContinued: false);
    }

    /// <summary>
    /// Runs again the phase that failed (or was interrupted by a crash). Units already finished are not generated again,
    /// and backend jobs already submitted are re-attached to.
    /// </summary>
    /// <param name="runId">The run.</param>
    /// <param name="cancellationToken">Stops waiting; the phase is interrupted and the run can be retried.</param>
    /// <exception cref="RunNotFoundException">The run does not exist.</exception>
    /// <exception cref="RunStateException">The run is paused, completed or cancelled, or its phase is running in this process.</exception>
    public async Task<RunResult> RetryAsync(Guid runId, CancellationToken cancellationToken = default)
    {
        var run = await _sdk.GetRunAsync(runId, cancellationToken).ConfigureAwait(false);
        var retryable = run.Status is RunStatus.Failed or RunStatus.Queued || (run.Status == RunStatus.Running && !_executor.IsActive(runId));
        if (!retryable)
        {
            throw new RunStateException(run.Id, run.Status, "retrying");
        }

        var parent = run.ParentCheckpointId is { } parentId ? await _sdk.GetCheckpointAsync(parentId, cancellationToken).ConfigureAwait(false) : null;
        return await _executor.ExecuteAsync(run.Id, run.CurrentPhase ?? 1, run.CurrentBranch ?? BranchNames.Main, parent, null, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Cancels a run: a phase running in this process is stopped (its backend jobs are cancelled through the token) and
    /// the run is marked <see cref="RunStatus.Cancelled"/>. Cancelling a finished or cancelled run does nothing.
    /// </summary>
    /// <param name="runId">The run.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The run as stored.</returns>
    /// <exception cref="RunNotFoundException">The run does not exist.</exception>
    public async Task<Run> CancelAsync(Guid runId, CancellationToken cancellationToken = default)
    {
        var run = await _sdk.GetRunAsync(runId, cancellationToken).ConfigureAwait(false);
        if (run.Status is RunStatus.Completed or RunStatus.Cancelled)
        {
            return run;
        }

        if (_executor.TryCancelActive(runId))
        {
            // The executor records the cancellation when the phase stops; wait briefly so the caller sees it.
            for (var i = 0; i < 100 && _executor.IsActive(runId); i++)
            {
                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }

            return await _sdk.GetRunAsync(runId, cancellationToken).ConfigureAwait(false);
        }

        run = await _sdk.Store.UpdateRunStateAsync(runId, new RunState(RunStatus.Cancelled, run.CurrentPhase, run.CurrentBranch, run.ParentCheckpointId), _sdk.Now, cancellationToken).ConfigureAwait(false);
        _sdk.Log.RunCancelled(runId);
        await _sdk.PublishAsync(new RunCancelled(runId, _sdk.Now)).ConfigureAwait(false);
        return run;
    }

    /// <summary>
    /// Sets a run's budget: raise it after a <see cref="BudgetExceededException"/>, then <see cref="RetryAsync"/> the run.
    /// Finished units are kept; the budget is checked again before every later phase and unit.
    /// </summary>
    /// <param name="runId">The run.</param>
    /// <param name="budget">The new spending limit for the whole run (what it spent counts), or null for none.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The run as stored.</returns>
    /// <exception cref="RunNotFoundException">The run does not exist.</exception>
    /// <exception cref="InvalidInputException">The budget is negative.</exception>
    public async Task<Run> SetBudgetAsync(Guid runId, decimal? budget, CancellationToken cancellationToken = default)
    {
        if (budget is < 0)
        {
            throw new InvalidInputException("budget", $"The budget is {budget}; set a budget of 0 or more, or null for no limit.");
        }

        await _sdk.GetRunAsync(runId, cancellationToken).ConfigureAwait(false);
        var run = await _sdk.Store.SetRunBudgetAsync(runId, budget, _sdk.Now, cancellationToken).ConfigureAwait(false);
        _sdk.Log.BudgetSet(runId, budget);
        return run;
    }

    private void Validate(StartRunRequest request)
    {
        InputRules.RequiredText(request.Pipeline, "StartRunRequest.Pipeline", _sdk.Options.MaxIdentityLength);
        InputRules.RequiredText(request.OwnerId, "StartRunRequest.OwnerId", _sdk.Options.MaxIdentityLength);
        InputRules.Json(request.Input, "StartRunRequest.Input", _sdk.Options.MaxInlineJsonBytes);
        if (request.Budget is < 0)
        {
            throw new InvalidInputException("StartRunRequest.Budget", $"StartRunRequest.Budget is {request.Budget}; set a budget of 0 or more, or none for no limit.");
        }

        if (request.RunId == Guid.Empty)
        {
            throw new InvalidInputException("StartRunRequest.RunId", "StartRunRequest.RunId is Guid.Empty; pass a new id (Guid.NewGuid()) or leave it null to get one.");
        }
    }

    private async Task<Checkpoint?> FindChildAsync(Checkpoint parent, string branch, CancellationToken ct) =>
        (await _sdk.Store.ListCheckpointsAsync(parent.RunId, branch, ct).ConfigureAwait(false))
            .FirstOrDefault(c => c.ParentId == parent.Id);
}
