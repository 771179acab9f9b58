using Checkpointing.Internal;

namespace Checkpointing;

/// <summary>
/// Starts runs, continues checkpoints, retries failed or interrupted phases and cancels runs. One executor at a time
/// executes a run, in any process: each call claims the run's lease first. Inline (the default), phases execute inside
/// the call, which returns when the run pauses for review, completes, fails or is cancelled. Queued
/// (<see cref="StartRunRequest.Queue"/>, <see cref="ContinueOptions.Queue"/>), the call records the intent and returns
/// at once, and a <c>CheckpointWorker</c> executes the phases.
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
    /// <param name="cancellationToken">
    /// Stops waiting: the run is interrupted, not cancelled. Its jobs in flight keep running and are re-attached when the
    /// run is retried (or picked up by a worker).
    /// </param>
    /// <returns>
    /// The run after it paused, completed or failed (or, queued, the run as created). A phase failure is recorded on the
    /// run, not thrown.
    /// </returns>
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
        var run = new Run
        {
            Id = request.RunId ?? Guid.NewGuid(),
            Pipeline = pipeline.Name,
            OwnerId = request.OwnerId,
            Input = request.Input.Clone(),
            AutoContinue = request.AutoContinue,
            Status = RunStatus.Queued,
            CurrentPhase = 1,
            CurrentBranch = BranchNames.Main,
            Budget = request.Budget,
            CreatedAt = now,
            UpdatedAt = now,
        };
        if (request.Queue)
        {
            await _sdk.Store.CreateRunAsync(run, cancellationToken).ConfigureAwait(false);
            _sdk.Log.RunStarted(run.Id, pipeline.Name, run.AutoContinue);
            _sdk.Log.RunQueued(run.Id, 1);
            return new RunResult(run, null);
        }

        // Created with its lease held, so no worker or other process starts it meanwhile.
        run = _executor.WithNewLease(run);
        await _sdk.Store.CreateRunAsync(run, cancellationToken).ConfigureAwait(false);
        _sdk.Log.RunStarted(run.Id, pipeline.Name, run.AutoContinue);
        return await _executor.ExecuteAsync(_executor.LeaseOf(run), 1, BranchNames.Main, null, null, request.OwnerId, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Approves <paramref name="checkpointId"/> and runs the next phase from it: on the same branch when none of its
    /// artifacts was edited, else on a new child branch. The phase consumes exactly the artifact versions the checkpoint
    /// held when the continuation was recorded. Continuing again with nothing changed since returns the same result
    /// without running the phase again: a caller that continues while the phase is still running (in this or another
    /// process) waits for it and gets the same checkpoint; a continuation whose phase was interrupted is resumed.
    /// </summary>
    /// <param name="checkpointId">The checkpoint to continue.</param>
    /// <param name="options">Who continues it and why, and whether to queue the phase for a worker.</param>
    /// <param name="cancellationToken">Stops waiting: the run is interrupted, not cancelled (see <see cref="StartAsync"/>).</param>
    /// <exception cref="CheckpointNotFoundException">The checkpoint does not exist.</exception>
    /// <exception cref="CheckpointAbandonedException">The checkpoint was abandoned.</exception>
    /// <exception cref="TerminalPhaseException">The checkpoint is at the terminal phase.</exception>
    /// <exception cref="RunStateException">The run was cancelled.</exception>
    /// <exception cref="RunBusyException">Another executor is running a different phase of the run.</exception>
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

        var nextPhase = checkpoint.Phase + 1;
        while (true)
        {
            if (run.Status == RunStatus.Cancelled)
            {
                throw new RunStateException(run.Id, run.Status, "continuing a checkpoint");
            }

            var lease = await _executor.TryClaimAsync(run.Id, cancellationToken).ConfigureAwait(false);
            if (lease is null)
            {
                // Someone executes the run. When it is this very continuation, wait for its phase; else the run is busy.
                var revision = (await _sdk.GetCheckpointAsync(checkpoint.Id, cancellationToken).ConfigureAwait(false)).Revision;
                var recorded = (await _sdk.Store.ListContinuationsAsync(checkpoint.Id, cancellationToken).ConfigureAwait(false))
                    .FirstOrDefault(c => c.Revision == revision);
                run = await _sdk.GetRunAsync(run.Id, cancellationToken).ConfigureAwait(false);
                if (recorded is null || !IsAt(run, nextPhase, recorded.Branch, checkpoint.Id))
                {
                    if (run.IsLeaseHeld(_sdk.Now) && run.Status == RunStatus.Running)
                    {
                        throw new RunBusyException(run.Id, run.LeaseOwner!, run.LeaseExpiresAt!.Value, run.CurrentPhase);
                    }

                    // The lease just ended, or its holder has claimed the run but not yet recorded what it does (another
                    // caller of this very continue, a moment ahead): look again shortly.
                    await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken).ConfigureAwait(false);
                    continue;
                }

                var settled = await WaitWhileExecutingAsync(run.Id, nextPhase, recorded.Branch, checkpoint.Id, options?.Queue == true, cancellationToken).ConfigureAwait(false);
                var done = await FindChildAsync(checkpoint, recorded.Branch, cancellationToken).ConfigureAwait(false);
                if (done is not null || settled.Status != RunStatus.Running || options?.Queue == true)
                {
                    return new ContinueResult(nextPhase, recorded.Branch, recorded.BranchCreated, done, settled, AlreadyContinued: true);
                }

                run = settled; // interrupted: claim it and resume
                continue;
            }

            Continuation continuation;
            Checkpoint? child;
            try
            {
                continuation = await _executor.RecordContinuationAsync(checkpoint, lease.Token, options?.RequestedBy, options?.Description, options?.Queue == true, cancellationToken).ConfigureAwait(false);
                child = continuation.Existing ? await FindChildAsync(checkpoint, continuation.Branch, cancellationToken).ConfigureAwait(false) : null;
            }
            catch
            {
                await lease.ReleaseAsync().ConfigureAwait(false);
                await lease.DisposeAsync().ConfigureAwait(false);
                throw;
            }

            if (child is not null || (continuation.Existing && options?.Queue == true && !IsAt(run, nextPhase, continuation.Branch, checkpoint.Id)))
            {
                // Continued before and its phase finished (or the run moved on): the same result, nothing runs.
                await lease.ReleaseAsync().ConfigureAwait(false);
                await lease.DisposeAsync().ConfigureAwait(false);
                var current = await _sdk.GetRunAsync(run.Id, cancellationToken).ConfigureAwait(false);
                return new ContinueResult(nextPhase, continuation.Branch, continuation.BranchCreated, child, current, AlreadyContinued: true);
            }

            if (options?.Queue == true)
            {
                var queued = await QueueAsync(lease, new RunState(RunStatus.Queued, nextPhase, continuation.Branch, checkpoint.Id), continuation.Existing, cancellationToken).ConfigureAwait(false);
                return new ContinueResult(nextPhase, continuation.Branch, continuation.BranchCreated, null, queued, AlreadyContinued: continuation.Existing);
            }

            // New, or recorded before but its phase failed or was interrupted: run it (finished units and jobs are kept).
            var approved = await _sdk.GetCheckpointAsync(checkpoint.Id, CancellationToken.None).ConfigureAwait(false);
            var result = await _executor.ExecuteAsync(
                lease, nextPhase, continuation.Branch, approved, continuation.Revision, continuation.RequestedBy ?? options?.RequestedBy, continuation.Description ?? options?.Description, cancellationToken).ConfigureAwait(false);
            var first = result.Checkpoint is null ? null : await FindChildAsync(checkpoint, continuation.Branch, cancellationToken).ConfigureAwait(false);
            return new ContinueResult(nextPhase, continuation.Branch, continuation.BranchCreated, first, result.Run, AlreadyContinued: false);
        }
    }

    /// <summary>
    /// Runs again the phase that failed or was interrupted (its process died, its caller stopped waiting, its host
    /// stopped), or a queued one. Units already finished are not generated again, and backend jobs already submitted are
    /// re-attached to.
    /// </summary>
    /// <param name="runId">The run.</param>
    /// <param name="cancellationToken">Stops waiting: the run is interrupted, not cancelled (see <see cref="StartAsync"/>).</param>
    /// <exception cref="RunNotFoundException">The run does not exist.</exception>
    /// <exception cref="RunStateException">The run is paused, completed or cancelled.</exception>
    /// <exception cref="RunBusyException">Another executor (in this or another process) is executing the run.</exception>
    public async Task<RunResult> RetryAsync(Guid runId, CancellationToken cancellationToken = default)
    {
        var run = await _sdk.GetRunAsync(runId, cancellationToken).ConfigureAwait(false);
        CheckRetryable(run);
        var lease = await _executor.TryClaimAsync(runId, cancellationToken).ConfigureAwait(false);
        if (lease is null)
        {
            run = await _sdk.GetRunAsync(runId, cancellationToken).ConfigureAwait(false);
            throw new RunBusyException(run.Id, run.LeaseOwner ?? "another executor", run.LeaseExpiresAt ?? _sdk.Now, run.CurrentPhase);
        }

        try
        {
            // Read again under the lease: the state may have moved on between the first read and the claim.
            run = await _sdk.GetRunAsync(runId, cancellationToken).ConfigureAwait(false);
            CheckRetryable(run);
        }
        catch
        {
            await lease.ReleaseAsync().ConfigureAwait(false);
            await lease.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return await _executor.ExecuteClaimedAsync(lease, run, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Cancels a run: it is marked <see cref="RunStatus.Cancelled"/> at once, the executor running it (in this or another
    /// process) stops within a heartbeat, and the backend jobs it has in flight are cancelled. This is the only call
    /// that cancels jobs; stopping a caller or a host only interrupts a run. Cancelling a finished or cancelled run does
    /// nothing.
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

        // A change outside the lease: it ends the lease and fences out the executor, wherever it runs.
        run = await _sdk.Store.UpdateRunStateAsync(runId, new RunState(RunStatus.Cancelled, run.CurrentPhase, run.CurrentBranch, run.ParentCheckpointId), _sdk.Now, cancellationToken).ConfigureAwait(false);
        _sdk.Log.RunCancelled(runId);
        await _sdk.PublishAsync(new RunCancelled(runId, _sdk.Now)).ConfigureAwait(false);
        if (_executor.TryCancelLocal(runId))
        {
            // The executor here cancels its jobs and stops; wait briefly so the caller returns after it.
            for (var i = 0; i < 200 && _executor.IsLocal(runId); i++)
            {
                await Task.Delay(25, cancellationToken).ConfigureAwait(false);
            }
        }

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

    private static bool IsAt(Run run, int phase, string branch, Guid parentId) =>
        run.CurrentPhase == phase && run.CurrentBranch == branch && run.ParentCheckpointId == parentId;

    private static void CheckRetryable(Run run)
    {
        if (run.Status is not (RunStatus.Failed or RunStatus.Queued or RunStatus.Running))
        {
            throw new RunStateException(run.Id, run.Status, "retrying");
        }
    }

    private async Task<Run> QueueAsync(ExecutionLease lease, RunState state, bool existing, CancellationToken ct)
    {
        await using var _ = lease.ConfigureAwait(false);
        Run queued;
        if (existing)
        {
            // Recorded before (the store left the run as it was): set it Queued and release the lease.
            queued = await _sdk.Store.UpdateRunStateAsync(lease.RunId, state with { FencingToken = lease.Token, ReleaseLease = true }, _sdk.Now, ct).ConfigureAwait(false);
        }
        else
        {
            queued = await _sdk.GetRunAsync(lease.RunId, ct).ConfigureAwait(false);
        }

        _sdk.Log.RunQueued(lease.RunId, state.Phase ?? 1);
        return queued;
    }

    /// <summary>
    /// Waits while the run executes <paramref name="phase"/> after <paramref name="parentId"/> on
    /// <paramref name="branch"/> under someone's lease (or, for a queued caller, returns at once). Returns the run once it
    /// left that phase or its lease ended.
    /// </summary>
    private async Task<Run> WaitWhileExecutingAsync(Guid runId, int phase, string branch, Guid parentId, bool queue, CancellationToken ct)
    {
        var notifications = _sdk.Store as ICheckpointStoreNotifications;
        while (true)
        {
            var run = await _sdk.GetRunAsync(runId, ct).ConfigureAwait(false);
            var executing = run.Status is RunStatus.Running or RunStatus.Queued && IsAt(run, phase, branch, parentId);
            if (queue || !executing || (run.Status == RunStatus.Running && !run.IsLeaseHeld(_sdk.Now)))
            {
                return run;
            }

            if (notifications is not null)
            {
                await notifications.WaitForChangeAsync(TimeSpan.FromMilliseconds(500), ct).ConfigureAwait(false);
            }
            else
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), ct).ConfigureAwait(false);
            }
        }
    }

    private async Task<Checkpoint?> FindChildAsync(Checkpoint parent, string branch, CancellationToken ct) =>
        (await _sdk.Store.ListCheckpointsAsync(parent.RunId, branch, ct).ConfigureAwait(false))
            .FirstOrDefault(c => c.ParentId == parent.Id);
}
