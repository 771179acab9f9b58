using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Checkpointing.Internal;

namespace Checkpointing.Internal;

/// <summary>Executes phases: fan-out, journal, commit, pause / auto-continue, failure and cancellation.</summary>
internal sealed class RunExecutor(SdkServices sdk)
{
    private readonly ConcurrentDictionary<Guid, ExecutionLease> _local = new();

    public SdkServices Sdk => sdk;

    /// <summary>The name this process claims leases under.</summary>
    public string Owner { get; } = sdk.Options.ExecutorName
        ?? $"{Environment.MachineName}/{Environment.ProcessId}/{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";

    /// <summary>Cancels a run executing in this process: its jobs in flight are cancelled too.</summary>
    public bool TryCancelLocal(Guid runId)
    {
        if (_local.TryGetValue(runId, out var lease))
        {
            lease.CancelRun();
            return true;
        }

        return false;
    }

    public bool IsLocal(Guid runId) => _local.ContainsKey(runId);

    /// <summary>A new run, created with its lease held by this process (fencing token 1) so that nobody else starts it.</summary>
    public Run WithNewLease(Run run) => run with { LeaseOwner = Owner, LeaseExpiresAt = sdk.Now + sdk.Options.LeaseDuration, LeaseToken = 1 };

    public ExecutionLease LeaseOf(Run run) => new(sdk, run.Id, run.LeaseToken, Owner);

    /// <summary>Claims a run for this process, or returns null when another executor holds it.</summary>
    public async Task<ExecutionLease?> TryClaimAsync(Guid runId, CancellationToken ct)
    {
        var now = sdk.Now;
        var run = await sdk.Store.TryClaimRunAsync(runId, Owner, now, now + sdk.Options.LeaseDuration, ct).ConfigureAwait(false);
        return run is null ? null : LeaseOf(run);
    }

    /// <summary>
    /// Executes the phase a claimed run stands at (queued, interrupted or failed): its phase, branch and parent come from
    /// the run, and its parent's revision, requester and description from the continuation that led there.
    /// </summary>
    public async Task<RunResult> ExecuteClaimedAsync(ExecutionLease lease, Run run, CancellationToken ct)
    {
        Checkpoint? parent = null;
        Continuation? continuation = null;
        var branch = run.CurrentBranch ?? BranchNames.Main;
        try
        {
            if (run.ParentCheckpointId is { } parentId)
            {
                parent = await sdk.GetCheckpointAsync(parentId, ct).ConfigureAwait(false);
                continuation = (await sdk.Store.ListContinuationsAsync(parentId, ct).ConfigureAwait(false)).LastOrDefault(c => c.Branch == branch);
            }
        }
        catch
        {
            await lease.ReleaseAsync().ConfigureAwait(false);
            await lease.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return await ExecuteAsync(lease, run.CurrentPhase ?? 1, branch, parent, continuation?.Revision, continuation?.RequestedBy, continuation?.Description, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs <paramref name="phaseNumber"/> on <paramref name="branch"/> after <paramref name="parent"/> under
    /// <paramref name="lease"/>, then keeps going while the run auto-continues. Returns when the run pauses, completes,
    /// fails or is cancelled; throws <see cref="OperationCanceledException"/> when the caller stops waiting (the run is
    /// then interrupted: its lease is released and its jobs keep running). The lease is released at the end.
    /// </summary>
    public async Task<RunResult> ExecuteAsync(ExecutionLease lease, int phaseNumber, string branch, Checkpoint? parent, long? parentRevision, string? createdBy, string? description, CancellationToken ct)
    {
        var runId = lease.RunId;
        await using var _ = lease.ConfigureAwait(false);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct, lease.Lost);
        _local[runId] = lease;
        lease.StartHeartbeat();
        Checkpoint? last = null;
        try
        {
            while (true)
            {
                var run = await sdk.GetRunAsync(runId, CancellationToken.None).ConfigureAwait(false);
                if (run.LeaseToken != lease.Token || run.Status == RunStatus.Cancelled)
                {
                    return new RunResult(run, last);
                }

                var pipeline = sdk.Pipelines.Get(run.Pipeline);
                Checkpoint checkpoint;
                try
                {
                    checkpoint = await ExecutePhaseAsync(run, pipeline, phaseNumber, branch, parent, parentRevision, createdBy, description, lease, cts.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (lease.IsLost || e is LeaseLostException)
                {
                    // Cancelled (jobs were cancelled) or taken over (jobs are left to the new owner): either way not ours.
                    await lease.MarkLostAsync().ConfigureAwait(false);
                    return new RunResult(await sdk.GetRunAsync(runId, CancellationToken.None).ConfigureAwait(false), last);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    await InterruptAsync(lease, phaseNumber).ConfigureAwait(false);
                    throw;
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    sdk.Log.PhaseFailed(e, runId, phaseNumber);
                    var error = InputRules.StoreSafe(e.Message);
                    var failed = await FinishAsync(lease, new RunState(RunStatus.Failed, phaseNumber, branch, parent?.Id, error)).ConfigureAwait(false);
                    if (failed.Status == RunStatus.Failed && failed.LeaseToken == lease.Token)
                    {
                        await sdk.PublishAsync(new RunFailed(runId, sdk.Now, phaseNumber, error)).ConfigureAwait(false);
                    }

                    return new RunResult(failed, last);
                }

                last = checkpoint;
                if (phaseNumber == pipeline.TerminalPhase)
                {
                    run = await FinishAsync(lease, new RunState(RunStatus.Completed, phaseNumber, branch, parent?.Id)).ConfigureAwait(false);
                    if (run.Status != RunStatus.Completed)
                    {
                        return new RunResult(run, checkpoint);
                    }

                    checkpoint = await sdk.Store.SetCheckpointStatusAsync(checkpoint.Id, CheckpointStatus.Approved, sdk.Now, CancellationToken.None).ConfigureAwait(false);
                    sdk.Log.RunCompleted(runId, run.Cost);
                    await sdk.PublishAsync(new RunCompleted(runId, sdk.Now, checkpoint.Id, run.Cost)).ConfigureAwait(false);
                    return new RunResult(run, checkpoint);
                }

                if (!run.AutoContinue)
                {
                    run = await FinishAsync(lease, new RunState(RunStatus.Paused, phaseNumber, branch, parent?.Id)).ConfigureAwait(false);
                    if (run.Status == RunStatus.Paused)
                    {
                        await sdk.PublishAsync(new RunPaused(runId, sdk.Now, checkpoint.Id, phaseNumber)).ConfigureAwait(false);
                    }

                    return new RunResult(run, checkpoint);
                }

                // Auto-continue: approve and run the next phase (on the same branch: nothing was edited).
                Continuation continuation;
                try
                {
                    continuation = await RecordContinuationAsync(checkpoint, lease.Token, null, null, queue: false, CancellationToken.None).ConfigureAwait(false);
                }
                catch (LeaseLostException)
                {
                    await lease.MarkLostAsync().ConfigureAwait(false);
                    return new RunResult(await sdk.GetRunAsync(runId, CancellationToken.None).ConfigureAwait(false), last);
                }

                if (ct.IsCancellationRequested)
                {
                    await InterruptAsync(lease, phaseNumber + 1).ConfigureAwait(false);
                    ct.ThrowIfCancellationRequested();
                }

                phaseNumber++;
                branch = continuation.Branch;
                parent = await sdk.GetCheckpointAsync(checkpoint.Id, CancellationToken.None).ConfigureAwait(false);
                parentRevision = continuation.Revision;
                createdBy = null;
                description = null;
            }
        }
        finally
        {
            _local.TryRemove(new KeyValuePair<Guid, ExecutionLease>(runId, lease));
        }
    }

    private async Task InterruptAsync(ExecutionLease lease, int phaseNumber)
    {
        // Interrupted, not failed: the run stays Running at this phase and reads as interrupted once the lease is gone.
        await lease.ReleaseAsync().ConfigureAwait(false);
        sdk.Log.RunInterrupted(lease.RunId, phaseNumber);
    }

    /// <summary>Writes the run's state at the end of an execution and releases the lease; returns the run as stored.</summary>
    private async Task<Run> FinishAsync(ExecutionLease lease, RunState state)
    {
        try
        {
            return await sdk.Store.UpdateRunStateAsync(lease.RunId, state with { FencingToken = lease.Token, ReleaseLease = true }, sdk.Now, CancellationToken.None).ConfigureAwait(false);
        }
        catch (LeaseLostException)
        {
            await lease.MarkLostAsync().ConfigureAwait(false);
            return await sdk.GetRunAsync(lease.RunId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The state could not be written (a full disk, a lost connection): free the run so it reads as interrupted.
            sdk.Log.PhaseFailed(e, lease.RunId, state.Phase ?? 0);
            await lease.ReleaseAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Records the continuation of <paramref name="checkpoint"/> at its current revision, read once: the next phase
    /// consumes its artifacts as they stand at that revision, so a later edit never leaks into the phase. One checkpoint
    /// read, whatever the number of artifacts; an edited checkpoint (revision above 0) forks a branch.
    /// </summary>
    public async Task<Continuation> RecordContinuationAsync(Checkpoint checkpoint, long? fencingToken, string? requestedBy, string? description, bool queue, CancellationToken ct)
    {
        var revision = (await sdk.GetCheckpointAsync(checkpoint.Id, ct).ConfigureAwait(false)).Revision;
        var request = new ContinuationRequest(checkpoint.Id, revision, Fork: revision > 0, sdk.Now)
        {
            RequestedBy = requestedBy,
            Description = description,
            FencingToken = fencingToken,
            Queue = queue,
        };
        var continuation = await sdk.Store.ContinueAsync(request, ct).ConfigureAwait(false);
        if (continuation is { BranchCreated: true, Existing: false })
        {
            Telemetry.BranchesCreated.Add(1);
            sdk.Log.BranchForked(checkpoint.RunId, continuation.Branch, checkpoint.Branch, checkpoint.Id);
            await sdk.PublishAsync(new BranchCreated(checkpoint.RunId, sdk.Now, continuation.Branch, checkpoint.Branch, checkpoint.Id)).ConfigureAwait(false);
        }

        return continuation;
    }

    private async Task<Checkpoint> ExecutePhaseAsync(Run run, PipelineDefinition pipeline, int phaseNumber, string branch, Checkpoint? parent, long? parentRevision, string? createdBy, string? description, ExecutionLease lease, CancellationToken ct)
    {
        var phase = pipeline.GetPhase(phaseNumber);
        using var activity = Telemetry.Source.StartActivity($"phase {phase.Name}");
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(Telemetry.Tags.Pipeline, pipeline.Name);
            activity.SetTag(Telemetry.Tags.Phase, phaseNumber);
            activity.SetTag(Telemetry.Tags.RunId, run.Id);
            activity.SetTag(Telemetry.Tags.Branch, branch);
        }

        var started = Stopwatch.GetTimestamp();
        var outcome = "failed";
        try
        {
            run = await sdk.Store.UpdateRunStateAsync(run.Id, new RunState(RunStatus.Running, phaseNumber, branch, parent?.Id) { FencingToken = lease.Token }, sdk.Now, ct).ConfigureAwait(false);
            sdk.Log.PhaseStarted(run.Id, phaseNumber, phase.Name, branch);
            await sdk.PublishAsync(new PhaseStarted(run.Id, sdk.Now, phaseNumber, phase.Name, branch)).ConfigureAwait(false);

            // Nothing per artifact is read here: the phase reads its inputs (at the pinned revision) when it asks for them.
            var inputs = new PhaseInputs(sdk.Store, parent, parentRevision);
            var executionKey = $"phase/{branch}/{phaseNumber}/{parent?.Id.ToString("N") ?? "root"}";
            NewCheckpoint draft = phase is UnitPhase unitPhase
                ? await RunUnitsAsync(run, pipeline, unitPhase, phaseNumber, branch, parent, inputs, executionKey, lease, ct).ConfigureAwait(false)
                : await RunPlainAsync(run, pipeline, phase, phaseNumber, branch, parent, inputs, executionKey, lease, ct).ConfigureAwait(false);
            draft = draft with { CreatedBy = createdBy ?? run.OwnerId, EditDescription = description, CreatedAt = sdk.Now, FencingToken = lease.Token };

            var checkpoint = await sdk.Store.CommitCheckpointAsync(draft, CancellationToken.None).ConfigureAwait(false);
            Telemetry.CheckpointsCreated.Add(1, new KeyValuePair<string, object?>(Telemetry.Tags.Pipeline, pipeline.Name));
            sdk.Log.CheckpointCommitted(run.Id, checkpoint.Id, phaseNumber, branch, checkpoint.Cost);
            await sdk.PublishAsync(new CheckpointCreated(run.Id, sdk.Now, checkpoint.Id, phaseNumber, branch, checkpoint.Cost)).ConfigureAwait(false);
            outcome = "succeeded";
            activity?.SetTag(Telemetry.Tags.CheckpointId, checkpoint.Id);
            return checkpoint;
        }
        catch (Exception e)
        {
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            throw;
        }
        finally
        {
            Telemetry.PhaseDuration.Record(
                Stopwatch.GetElapsedTime(started).TotalSeconds,
                new KeyValuePair<string, object?>(Telemetry.Tags.Pipeline, pipeline.Name),
                new KeyValuePair<string, object?>(Telemetry.Tags.Phase, phase.Name),
                new KeyValuePair<string, object?>(Telemetry.Tags.Outcome, outcome));
        }
    }

    private async Task<NewCheckpoint> RunPlainAsync(Run run, PipelineDefinition pipeline, Phase phase, int phaseNumber, string branch, Checkpoint? parent, PhaseInputs inputs, string executionKey, ExecutionLease lease, CancellationToken ct)
    {
        var context = new PhaseContext(sdk, run, pipeline, phaseNumber, branch, parent, inputs, executionKey, "phase") { Lease = lease };
        if (run.Budget is { } budget)
        {
            var estimate = phase.EstimateCost(context);
            if (estimate > 0 ? run.Cost + estimate > budget : run.Cost >= budget)
            {
                throw new BudgetExceededException(run.Id, budget, run.Cost, estimate, $"phase {phaseNumber} ('{phase.Name}')");
            }
        }

        var result = await phase.ExecuteAsync(context, ct).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Phase '{phase.Name}' returned no result.");
        var artifacts = new List<NewArtifact>();
        foreach (var a in result.Artifacts)
        {
            ArtifactKeys.Validate(a.Type, "type");
            ArtifactKeys.Validate(a.Key);
            if (phase.FindArtifact(a.Type) is null)
            {
                throw new InvalidOperationException($"Phase '{phase.Name}' produced a '{a.Type}' artifact but does not declare that type in its Artifacts.");
            }

            artifacts.Add(new NewArtifact(Guid.NewGuid(), a.Type, a.Key, a.Content, a.Metadata ?? ArtifactMetadata.Empty));
        }

        CheckStorable(phase, artifacts, result.Output);

        var cost = result.Cost + context.GenerationCost;
        return Draft(run, branch, phaseNumber, inputs) with { Output = result.Output, Cost = cost, Artifacts = artifacts, ExecutionKey = executionKey, RunCostDelta = cost };
    }

    /// <summary>Refuses what no store can hold (over-long JSON or text, U+0000, lone surrogates) the same way on every store.</summary>
    private void CheckStorable(Phase phase, IReadOnlyList<NewArtifact> artifacts, JsonElement? output)
    {
        foreach (var a in artifacts)
        {
            var limit = phase.FindArtifact(a.Type)?.MaxJsonBytes ?? sdk.Options.MaxInlineJsonBytes;
            InputRules.Content(a.Content, a.Metadata, $"Phase '{phase.Name}' artifact {a.Type}/{a.Key}", limit, sdk.Options.MaxTextLength);
        }

        if (output is { } json)
        {
            InputRules.Json(json, $"Phase '{phase.Name}' output", sdk.Options.MaxInlineJsonBytes);
        }
    }

    private async Task<NewCheckpoint> RunUnitsAsync(Run run, PipelineDefinition pipeline, UnitPhase phase, int phaseNumber, string branch, Checkpoint? parent, PhaseInputs inputs, string executionKey, ExecutionLease lease, CancellationToken ct)
    {
        var counting = new PhaseContext(sdk, run, pipeline, phaseNumber, branch, parent, inputs, executionKey, "count");
        var total = await phase.CountUnitsAsync(counting, ct).ConfigureAwait(false);
        var done = (await sdk.Store.GetUnitsAsync(run.Id, executionKey, ct).ConfigureAwait(false))
            .Where(u => u.UnitIndex >= 1 && u.UnitIndex <= total)
            .ToDictionary(u => u.UnitIndex);
        if (done.Count > 0)
        {
            sdk.Log.ResumingUnits(run.Id, phaseNumber, done.Count, total);
        }

        // Every key is checked before anything is generated: a bad key would leave artifacts the queries cannot read.
        var keys = new Dictionary<int, string>(total);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 1; i <= total; i++)
        {
            var key = phase.GetUnitKey(i);
            ArtifactKeys.Validate(key);
            if (!seen.Add(key))
            {
                throw new InvalidStateException($"Phase '{phase.Name}' gives units {keys.First(k => k.Value == key).Key} and {i} the same key '{key}'; GetUnitKey must return a different key for every unit.");
            }

            keys[i] = key;
        }

        var completed = done.Count;
        var reserved = 0m;

        // What the run has spent, kept here from now on: a finished unit's cost moves from reserved to spent under one lock.
        var spent = run.Budget is null ? 0m : (await sdk.GetRunAsync(run.Id, ct).ConfigureAwait(false)).Cost;
        var budgetLock = new Lock();
        var progress = new SemaphoreSlim(1, 1);
        var missing = Enumerable.Range(1, total).Where(i => !done.ContainsKey(i)).ToList();
        var maxConcurrency = phase.MaxConcurrency > 0 ? phase.MaxConcurrency : sdk.Options.DefaultMaxConcurrency;

        await Parallel.ForEachAsync(missing, new ParallelOptions { MaxDegreeOfParallelism = maxConcurrency, CancellationToken = ct }, async (index, token) =>
        {
            var unitContext = new UnitContext(sdk, run, pipeline, phaseNumber, branch, parent, inputs, executionKey, index, total, UnitOverrides.None) { Lease = lease };
            var estimate = phase.EstimateUnitCost(unitContext);
            if (run.Budget is { } budget)
            {
                lock (budgetLock)
                {
                    var projected = spent + reserved + estimate;
                    if (estimate > 0 ? projected > budget : projected >= budget)
                    {
                        throw new BudgetExceededException(run.Id, budget, spent, estimate, $"unit {index} of phase {phaseNumber} ('{phase.Name}')");
                    }

                    reserved += estimate;
                }
            }

            var released = false;
            try
            {
                var result = await phase.GenerateUnitAsync(unitContext, token).ConfigureAwait(false)
                    ?? throw new InvalidOperationException($"Phase '{phase.Name}' returned no result for unit {index}.");
                var cost = result.Cost + unitContext.GenerationCost;
                var artifact = new NewArtifact(Guid.NewGuid(), phase.UnitArtifact.Type, keys[index], result.Content, (result.Metadata ?? ArtifactMetadata.Empty) with { Cost = cost }, index);
                CheckStorable(phase, [artifact], null);
                var unit = new CompletedUnit(index, artifact, cost);
                try
                {
                    await sdk.Store.SaveUnitAsync(run.Id, executionKey, unit, lease.Token, CancellationToken.None).ConfigureAwait(false);
                }
                catch (LeaseLostException)
                {
                    // Learn whether the run was cancelled before the other units stop, so their jobs are treated alike.
                    await lease.MarkLostAsync().ConfigureAwait(false);
                    throw;
                }

                if (run.Budget is not null)
                {
                    lock (budgetLock)
                    {
                        reserved -= estimate;
                        spent += cost;
                        released = true;
                    }
                }

                Telemetry.UnitsCompleted.Add(1, new KeyValuePair<string, object?>(Telemetry.Tags.Phase, phase.Name));

                // The count is taken and published under one lock, so progress events arrive in order (1/4, 2/4, ...).
                await progress.WaitAsync(CancellationToken.None).ConfigureAwait(false);
                try
                {
                    int count;
                    lock (done)
                    {
                        done[index] = unit;
                        count = ++completed;
                    }

                    await sdk.PublishAsync(new UnitCompleted(run.Id, sdk.Now, phaseNumber, index, count, total, cost)).ConfigureAwait(false);
                }
                finally
                {
                    progress.Release();
                }
            }
            finally
            {
                if (run.Budget is not null && !released)
                {
                    lock (budgetLock)
                    {
                        reserved -= estimate;
                    }
                }
            }
        }).ConfigureAwait(false);

        var units = done.Values.OrderBy(u => u.UnitIndex).ToList();
        var cost = units.Sum(u => u.Cost);
        return Draft(run, branch, phaseNumber, inputs) with
        {
            Output = phase.SummarizeOutput(units),
            Cost = cost,
            Artifacts = units.Select(u => u.Artifact).ToList(),
            ExecutionKey = executionKey,
            RunCostDelta = 0m,
        };
    }

    private NewCheckpoint Draft(Run run, string branch, int phaseNumber, PhaseInputs inputs) => new()
    {
        Id = Guid.NewGuid(),
        RunId = run.Id,
        Branch = branch,
        Phase = phaseNumber,
        ParentId = inputs.Parent?.Id,
        ParentRevision = inputs.ParentRevision,
        CreatedAt = sdk.Now,
    };
}
