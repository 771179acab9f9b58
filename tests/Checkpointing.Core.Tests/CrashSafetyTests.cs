using System.Text.Json.Nodes;
using Checkpointing.Tests.Support;

namespace Checkpointing.Tests;

public class CrashSafetyTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_unit_phase_failing_at_unit_5_of_8_regenerates_only_the_missing_units_on_retry()
    {
        await using var host = new TestHost();
        var plan = (await host.StartAsync(beats: 8)).Checkpoint!;
        var failing = true;
        var executionKey = $"phase/main/2/{plan.Id:N}";
        static bool IsUnit5(GenerationRequest r) => r.Input["prompt"]!.GetValue<string>().StartsWith("shot 5 ", StringComparison.Ordinal);
        host.Backend.FailWhen = r => failing && IsUnit5(r) ? "out of memory on the GPU" : null;

        // Unit 5 fails only once units 1-4 are recorded, whatever the scheduling.
        host.Backend.BeforeComplete = async (r, token) =>
        {
            while (failing && IsUnit5(r) && (await host.Store.GetUnitsAsync(plan.RunId, executionKey, token)).Count(u => u.UnitIndex <= 4) < 4)
            {
                await Task.Delay(5, token);
            }
        };

        var failed = await host.Runner.ContinueAsync(plan.Id, cancellationToken: Ct);
        Assert.Equal(RunStatus.Failed, failed.Run.Status);
        Assert.Contains("out of memory on the GPU", failed.Run.Error, StringComparison.Ordinal);
        Assert.Null(failed.Checkpoint);
        var journal = await host.Store.GetUnitsAsync(plan.RunId, executionKey, Ct);
        var finishedBeforeFailure = journal.Select(u => u.UnitIndex).ToHashSet();
        Assert.Superset(new HashSet<int> { 1, 2, 3, 4 }, finishedBeforeFailure);
        Assert.DoesNotContain(5, finishedBeforeFailure);
        var costAfterFailure = failed.Run.Cost;

        failing = false;
        var submittedBefore = host.Backend.Submitted.Count;
        var waitedBefore = host.Backend.Waited.Count;
        var retried = await host.Runner.RetryAsync(plan.RunId, Ct);

        Assert.Equal(RunStatus.Paused, retried.Status);
        // Units that finished are neither submitted nor awaited again; units whose job was in flight when unit 5
        // failed are re-attached to (awaited by id), and only the rest are submitted anew.
        var submittedOnRetry = host.Backend.Submitted.Skip(submittedBefore).Select(r => r.Input["prompt"]!.GetValue<string>()).ToList();
        var reattachedOnRetry = host.Backend.Waited.Skip(waitedBefore).Select(id => host.Backend.RequestOf(id).Input["prompt"]!.GetValue<string>()).ToList();
        Assert.All(finishedBeforeFailure, i => Assert.DoesNotContain(reattachedOnRetry, p => p.StartsWith($"shot {i} ", StringComparison.Ordinal)));
        Assert.All(finishedBeforeFailure, i => Assert.DoesNotContain(submittedOnRetry, p => p.StartsWith($"shot {i} ", StringComparison.Ordinal)));
        var missing = Enumerable.Range(1, 8).Except(finishedBeforeFailure).ToList();
        Assert.All(missing, i => Assert.Contains(reattachedOnRetry, p => p.StartsWith($"shot {i} ", StringComparison.Ordinal)));
        Assert.True(submittedOnRetry.Count <= missing.Count);
        Assert.Contains(submittedOnRetry, p => p.StartsWith("shot 5 ", StringComparison.Ordinal));
        var storyboard = retried.Checkpoint!;
        Assert.Equal(8, (await host.Store.GetArtifactsAsync(storyboard.Id, Ct)).Count);
        Assert.Equal(8 * host.Backend.CostPerJob, storyboard.Cost);
        Assert.Empty(await host.Store.GetUnitsAsync(plan.RunId, executionKey, Ct));
        Assert.Equal(costAfterFailure + missing.Count * host.Backend.CostPerJob, retried.Run.Cost);
    }

    [Fact]
    public async Task A_restarted_runner_reattaches_to_the_recorded_job_instead_of_paying_again()
    {
        var store = new InMemoryCheckpointStore();
        Guid runId;
        List<KeyValuePair<string, GenerationRequest>> providerJobs;
        await using (var first = new TestHost(store: store))
        {
            var plan = (await first.StartAsync(beats: 2)).Checkpoint!;
            runId = plan.RunId;

            // The image job for unit 2 hangs; the process "dies" (the caller gives up) while waiting on it.
            using var dying = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            first.Backend.BeforeComplete = async (r, token) =>
            {
                if (r.Input["prompt"]!.GetValue<string>().StartsWith("shot 2 ", StringComparison.Ordinal))
                {
                    await dying.CancelAsync();
                    await Task.Delay(Timeout.Infinite, token);
                }
            };
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first.Runner.ContinueAsync(plan.Id, cancellationToken: dying.Token));
            // Interrupted, not failed: still Running, with no executor holding it.
            var interrupted = (await store.GetRunAsync(runId, Ct))!;
            Assert.Equal(RunStatus.Running, interrupted.Status);
            Assert.NotNull(interrupted.GetInterruptedSince(DateTimeOffset.UtcNow));
            providerJobs = first.Backend.Jobs.ToList();
        }

        // A new process with a new backend client. The jobs live at the provider, so the new client can wait on any
        // job id the first process submitted.
        await using var second = new TestHost(store: store);
        foreach (var (jobId, request) in providerJobs)
        {
            second.Backend.Adopt(jobId, request);
        }

        var recorded = await store.GetJobAsync(runId, $"phase/main/2/{(await store.GetRunAsync(runId, Ct))!.ParentCheckpointId:N}", "unit-2/1", Ct);
        Assert.NotNull(recorded);

        var retried = await second.Runner.RetryAsync(runId, Ct);

        Assert.Equal(RunStatus.Paused, retried.Status);
        Assert.Contains(recorded, second.Backend.Waited);
        Assert.Equal(0, second.Backend.SubmitCount(r => r.Model.StartsWith("image", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_budget_stops_the_run_before_it_would_be_exceeded()
    {
        await using var host = new TestHost();

        // Plan (0.025) + 4 images (0.1) fit in 0.13; the first clip would not.
        var result = await host.StartAsync(autoContinue: true, budget: 0.13m);

        Assert.Equal(RunStatus.Failed, result.Status);
        Assert.Contains("budget", result.Run.Error, StringComparison.Ordinal);
        Assert.True(result.Run.Cost <= 0.13m);
        Assert.Equal(0, host.Backend.SubmitCount(r => r.Model.StartsWith("video", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Cancelling_a_running_run_cancels_its_backend_jobs_and_marks_it_cancelled()
    {
        await using var host = new TestHost();
        var plan = (await host.StartAsync()).Checkpoint!;
        var waiting = new TaskCompletionSource();
        host.Backend.BeforeComplete = async (_, token) =>
        {
            waiting.TrySetResult();
            await Task.Delay(Timeout.Infinite, token);
        };

        var running = host.Runner.ContinueAsync(plan.Id, cancellationToken: Ct);
        await waiting.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        var cancelled = await host.Runner.CancelAsync(plan.RunId, Ct);
        var result = await running.WaitAsync(TimeSpan.FromSeconds(10), Ct);

        Assert.Equal(RunStatus.Cancelled, cancelled.Status);
        Assert.Equal(RunStatus.Cancelled, result.Run.Status);
        Assert.NotEmpty(host.Backend.Cancelled);
        await Assert.ThrowsAsync<RunStateException>(() => host.Runner.RetryAsync(plan.RunId, Ct));
    }
}
