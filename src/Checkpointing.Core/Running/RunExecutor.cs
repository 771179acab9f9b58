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
    private readonly ConcurrentDictionary<Guid, CancellationTokenSource> _active = new();

    public SdkServices Sdk => sdk;

    public bool IsActive(Guid runId) => _active.ContainsKey(runId);

    public bool TryCancelActive(Guid runId)
    {
        if (_active.TryGetValue(runId, out var cts))
        {
            cts.Cancel();
            return true;
        }

        return false;
    }

    /// <summary>The pins a phase continuing <paramref name="parent"/> consumes: the parent's own pins plus its artifacts now.</summary>
    public async Task<IReadOnlyList<ArtifactPin>> PinsForChildOfAsync(Checkpoint? parent, CancellationToken ct)
    {
        if (parent is null)
        {
            return [];
        }

        var artifacts = await sdk.Store.GetArtifactsAsync(parent.Id, ct).ConfigureAwait(false);
        return [.. parent.Consumed, .. artifacts.Select(a => new ArtifactPin(a.Id, parent.Id, parent.Phase, a.Type, a.Key, a.Version))];
    }

    public static string Fingerprint(IReadOnlyList<Artifact> artifacts)
    {
        var text = string.Join('\n', artifacts.OrderBy(a => a.Type, StringComparer.Ordinal).ThenBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Type}/{a.Key}@{a.Version}"));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>
    /// Runs <paramref name="phaseNumber"/> on <paramref name="branch"/> after <paramref name="parent"/>, then keeps going
    /// while the run auto-continues. Returns when the run pauses, completes, fails or is cancelled.
    /// </summary>
    public async Task<RunResult> ExecuteAsync(Guid runId, int phaseNumber, string branch, Checkpoint? parent, string? createdBy, string? description, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (!_active.TryAdd(runId, cts))
        {
            throw new InvalidStateException($"A phase of run '{runId}' is already running in this process; wait for it to pause or finish.");
        }

        try
        {
            Checkpoint? last = null;
            while (true)
            {
                var run = await sdk.GetRunAsync(runId, CancellationToken.None).ConfigureAwait(false);
                if (run.Status == RunStatus.Cancelled)
                {
                    return new RunResult(run, last);
                }

                var pipeline = sdk.Pipelines.Get(run.Pipeline);
                Checkpoint checkpoint;
                try
                {
                    checkpoint = await ExecutePhaseAsync(run, pipeline, phaseNumber, branch, parent, createdBy, description, cts.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cts.IsCancellationRequested && !ct.IsCancellationRequested)
                {
                    // Cancelled through CheckpointRunner.CancelAsync.
                    run = await sdk.Store.UpdateRunStateAsync(runId, new RunState(RunStatus.Cancelled, phaseNumber, branch, parent?.Id), sdk.Now, CancellationToken.None).ConfigureAwait(false);
                    sdk.Log.RunCancelled(runId);
                    await sdk.PublishAsync(new RunCancelled(runId, sdk.Now)).ConfigureAwait(false);
                    return new RunResult(run, last);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    await sdk.Store.UpdateRunStateAsync(
                        runId,
                        new RunState(RunStatus.Failed, phaseNumber, branch, parent?.Id, "Interrupted: the caller stopped waiting. Retry the run to resume; finished units are kept."),
                        sdk.Now,
                        CancellationToken.None).ConfigureAwait(false);
                    throw;
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    sdk.Log.PhaseFailed(e, runId, phaseNumber);
                    var error = InputRules.StoreSafe(e.Message);
                    run = await sdk.Store.UpdateRunStateAsync(runId, new RunState(RunStatus.Failed, phaseNumber, branch, parent?.Id, error), sdk.Now, CancellationToken.None).ConfigureAwait(false);
                    await sdk.PublishAsync(new RunFailed(runId, sdk.Now, phaseNumber, error)).ConfigureAwait(false);
                    return new RunResult(run, last);
                }

                last = checkpoint;
                if (phaseNumber == pipeline.TerminalPhase)
                {
                    checkpoint = await sdk.Store.SetCheckpointStatusAsync(checkpoint.Id, CheckpointStatus.Approved, sdk.Now, CancellationToken.None).ConfigureAwait(false);
                    run = await sdk.Store.UpdateRunStateAsync(runId, new RunState(RunStatus.Completed, phaseNumber, branch, parent?.Id), sdk.Now, CancellationToken.None).ConfigureAwait(false);
                    sdk.Log.RunCompleted(runId, run.Cost);
                    await sdk.PublishAsync(new RunCompleted(runId, sdk.Now, checkpoint.Id, run.Cost)).ConfigureAwait(false);
                    return new RunResult(run, checkpoint);
                }

                if (!run.AutoContinue)
                {
                    run = await sdk.Store.UpdateRunStateAsync(runId, new RunState(RunStatus.Paused, phaseNumber, branch, parent?.Id), sdk.Now, CancellationToken.None).ConfigureAwait(false);
                    await sdk.PublishAsync(new RunPaused(runId, sdk.Now, checkpoint.Id, phaseNumber)).ConfigureAwait(false);
                    return new RunResult(run, checkpoint);
                }

                // Auto-continue: approve and run the next phase (on the same branch: nothing was edited).
                var continuation = await RecordContinuationAsync(checkpoint, CancellationToken.None).ConfigureAwait(false);
                phaseNumber++;
                branch = continuation.Branch;
                parent = await sdk.GetCheckpointAsync(checkpoint.Id, CancellationToken.None).ConfigureAwait(false);
                description = null;
            }
        }
        finally
        {
            _active.TryRemove(runId, out _);
        }
    }

    public async Task<Continuation> RecordContinuationAsync(Checkpoint checkpoint, CancellationToken ct)
    {
        var artifacts = await sdk.Store.GetArtifactsAsync(checkpoint.Id, ct).ConfigureAwait(false);
        var edited = artifacts.Any(a => a.Version > 1);
        var continuation = await sdk.Store.ContinueAsync(new ContinuationRequest(checkpoint.Id, Fingerprint(artifacts), edited, sdk.Now), ct).ConfigureAwait(false);
        if (continuation is { BranchCreated: true, Existing: false })
        {
            Telemetry.BranchesCreated.Add(1);
            sdk.Log.BranchForked(checkpoint.RunId, continuation.Branch, checkpoint.Branch, checkpoint.Id);
            await sdk.PublishAsync(new BranchCreated(checkpoint.RunId, sdk.Now, continuation.Branch, checkpoint.Branch, checkpoint.Id)).ConfigureAwait(false);
        }

        return continuation;
    }

    private async Task<Checkpoint> ExecutePhaseAsync(Run run, PipelineDefinition pipeline, int phaseNumber, string branch, Checkpoint? parent, string? createdBy, string? description, CancellationToken ct)
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
            run = await sdk.Store.UpdateRunStateAsync(run.Id, new RunState(RunStatus.Running, phaseNumber, branch, parent?.Id), sdk.Now, ct).ConfigureAwait(false);
            sdk.Log.PhaseStarted(run.Id, phaseNumber, phase.Name, branch);
            await sdk.PublishAsync(new PhaseStarted(run.Id, sdk.Now, phaseNumber, phase.Name, branch)).ConfigureAwait(false);

            var pins = await PinsForChildOfAsync(parent, ct).ConfigureAwait(false);
            var executionKey = $"phase/{branch}/{phaseNumber}/{parent?.Id.ToString("N") ?? "root"}";
            NewCheckpoint draft = phase is UnitPhase unitPhase
                ? await RunUnitsAsync(run, pipeline, unitPhase, phaseNumber, branch, parent, pins, executionKey, ct).ConfigureAwait(false)
                : await RunPlainAsync(run, pipeline, phase, phaseNumber, branch, parent, pins, executionKey, ct).ConfigureAwait(false);
            draft = draft with { CreatedBy = createdBy ?? run.OwnerId, EditDescription = description, CreatedAt = sdk.Now };

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

    private async Task<NewCheckpoint> RunPlainAsync(Run run, PipelineDefinition pipeline, Phase phase, int phaseNumber, string branch, Checkpoint? parent, IReadOnlyList<ArtifactPin> pins, string executionKey, CancellationToken ct)
    {
        var context = new PhaseContext(sdk, run, pipeline, phaseNumber, branch, parent, pins, executionKey, "phase");
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
        return new NewCheckpoint(Guid.NewGuid(), run.Id, branch, phaseNumber, parent?.Id, result.Output, cost, null, null, pins, artifacts, executionKey, cost, sdk.Now);
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

    private async Task<NewCheckpoint> RunUnitsAsync(Run run, PipelineDefinition pipeline, UnitPhase phase, int phaseNumber, string branch, Checkpoint? parent, IReadOnlyList<ArtifactPin> pins, string executionKey, CancellationToken ct)
    {
        var counting = new PhaseContext(sdk, run, pipeline, phaseNumber, branch, parent, pins, executionKey, "count");
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
            var unitContext = new UnitContext(sdk, run, pipeline, phaseNumber, branch, parent, pins, executionKey, index, total, UnitOverrides.None);
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
                await sdk.Store.SaveUnitAsync(run.Id, executionKey, unit, null, CancellationToken.None).ConfigureAwait(false);
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
        return new NewCheckpoint(
            Guid.NewGuid(), run.Id, branch, phaseNumber, parent?.Id, phase.SummarizeOutput(units), cost, null, null, pins,
            units.Select(u => u.Artifact).ToList(), executionKey, RunCostDelta: 0m, sdk.Now);
    }
}
