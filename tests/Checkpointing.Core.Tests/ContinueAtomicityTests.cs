using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Checkpointing.Tests.Support;

namespace Checkpointing.Tests;

/// <summary>
/// What a continue records is what the next phase gets: every concurrent caller sees the same result, an edit that lands
/// after the continue was recorded never leaks into the phase, and a failure that cannot be recorded leaves the run
/// interrupted rather than running forever.
/// </summary>
public class ContinueAtomicityTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Ten_concurrent_continues_of_one_checkpoint_all_get_the_one_checkpoint_the_phase_made()
    {
        var store = new InMemoryCheckpointStore();
        var hosts = Enumerable.Range(0, 10).Select(_ => new TestHost(store: store)).ToList();
        try
        {
            var plan = (await hosts[0].StartAsync()).Checkpoint!;
            var release = new TaskCompletionSource();
            foreach (var host in hosts)
            {
                host.Backend.BeforeComplete = async (_, token) => await release.Task.WaitAsync(token);
            }

            var calls = hosts.Select(h => Task.Run(() => h.Runner.ContinueAsync(plan.Id, cancellationToken: Ct), Ct)).ToList();
            await Task.Delay(300, Ct);
            release.SetResult();
            var results = await Task.WhenAll(calls);

            var made = Assert.Single(await store.ListCheckpointsAsync(plan.RunId, null, Ct), c => c.Phase == 2);
            Assert.All(results, r => Assert.Equal((made.Id, RunStatus.Paused, 2, BranchNames.Main), (r.Checkpoint?.Id ?? Guid.Empty, r.Status, r.NextPhase, r.Branch)));
            Assert.Single(results, r => !r.AlreadyContinued);
            var beats = (await store.GetArtifactsAsync(made.Id, Ct)).Count;
            Assert.Equal(beats, hosts.Sum(h => h.Backend.SubmitCount(r => r.Model.StartsWith("image", StringComparison.Ordinal)))); // one image per beat, once
        }
        finally
        {
            foreach (var host in hosts)
            {
                await host.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task An_edit_landing_right_after_the_continue_is_recorded_does_not_leak_into_the_unforked_phase()
    {
        var inner = new InMemoryCheckpointStore();
        var store = StoreHook.Wrap(inner);
        await using var host = new TestHost(store: store);
        var plan = (await host.StartAsync()).Checkpoint!;

        // Right after the store records the continuation (unedited: no fork), someone edits the spec.
        StoreHook.Of(store).AfterContinue = async request =>
        {
            await host.Editor.PatchJsonAsync(request.CheckpointId, "spec", "spec", """{"template":"ZEBRA"}""", cancellationToken: Ct);
            Assert.Equal(2, (await inner.GetArtifactAsync(request.CheckpointId, "spec", "spec", Ct))!.Version);
        };

        var result = await host.Runner.ContinueAsync(plan.Id, cancellationToken: Ct);

        Assert.Equal((BranchNames.Main, false), (result.Branch, result.BranchCreated));
        var consumed = Assert.Single(await host.Queries.GetInputsAsync(result.Checkpoint!.Id, Ct), p => p.Type == "spec");
        Assert.Equal(1, consumed.Version); // exactly the revision recorded with the continuation
        Assert.DoesNotContain(host.Backend.Jobs, j => j.Value.Input.ToJsonString().Contains("ZEBRA", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failure_the_store_cannot_record_leaves_the_run_interrupted_not_running()
    {
        var inner = new InMemoryCheckpointStore();
        var store = StoreHook.Wrap(inner);
        await using var host = new TestHost(store: store);
        var plan = (await host.StartAsync()).Checkpoint!;
        host.Backend.FailWhen = _ => "model overloaded";
        StoreHook.Of(store).OnUpdateRunState = state => state.Status == RunStatus.Failed ? throw new IOException("No space left on device") : null;

        await Assert.ThrowsAsync<IOException>(() => host.Runner.ContinueAsync(plan.Id, cancellationToken: Ct));

        var run = (await inner.GetRunAsync(plan.RunId, Ct))!;
        Assert.Equal(RunStatus.Running, run.Status);
        Assert.Null(run.LeaseOwner);
        Assert.NotNull(run.GetInterruptedSince(DateTimeOffset.UtcNow)); // reads as interrupted at once: retry resumes it
    }
}

public class InterruptAndCancelTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_caller_that_stops_waiting_interrupts_the_run_and_leaves_its_jobs_running()
    {
        await using var host = new TestHost();
        var plan = (await host.StartAsync()).Checkpoint!;
        var waiting = new TaskCompletionSource();
        host.Backend.BeforeComplete = async (_, token) =>
        {
            waiting.TrySetResult();
            await Task.Delay(Timeout.Infinite, token);
        };
        using var caller = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var running = host.Runner.ContinueAsync(plan.Id, cancellationToken: caller.Token);
        await waiting.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await caller.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        var run = (await host.Store.GetRunAsync(plan.RunId, Ct))!;
        Assert.Equal(RunStatus.Running, run.Status);
        Assert.NotNull(run.GetInterruptedSince(DateTimeOffset.UtcNow));
        Assert.Empty(host.Backend.Cancelled);
        Assert.NotEmpty(await host.Store.GetJobAsync(plan.RunId, $"phase/main/2/{plan.Id:N}", "unit-1/1", Ct) ?? "");
    }

    [Fact]
    public async Task Cancelling_from_another_process_stops_the_executor_and_cancels_its_jobs()
    {
        var store = new InMemoryCheckpointStore();
        await using var executor = new TestHost(store: store, services: s => s.Configure<CheckpointingOptions>(o => o.LeaseDuration = TimeSpan.FromSeconds(1)));
        await using var other = new TestHost(store: store);
        var plan = (await executor.StartAsync()).Checkpoint!;
        var waiting = new TaskCompletionSource();
        executor.Backend.BeforeComplete = async (_, token) =>
        {
            waiting.TrySetResult();
            await Task.Delay(Timeout.Infinite, token);
        };

        var running = executor.Runner.ContinueAsync(plan.Id, cancellationToken: Ct);
        await waiting.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        var cancelled = await other.Runner.CancelAsync(plan.RunId, Ct);

        // The executor learns it at its next heartbeat (a third of its lease), cancels its jobs and stops.
        var result = await running.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(RunStatus.Cancelled, cancelled.Status);
        Assert.Equal(RunStatus.Cancelled, result.Run.Status);
        Assert.NotEmpty(executor.Backend.Cancelled);
        Assert.DoesNotContain(await store.ListCheckpointsAsync(plan.RunId, null, Ct), c => c.Phase == 2);
    }

    [Fact]
    public async Task A_job_the_store_cannot_record_is_cancelled_so_a_retry_does_not_pay_for_it_twice()
    {
        var inner = new InMemoryCheckpointStore();
        var store = StoreHook.Wrap(inner);
        await using var host = new TestHost(store: store);
        var plan = (await host.StartAsync()).Checkpoint!;
        StoreHook.Of(store).OnSaveJob = () => new IOException("No space left on device");

        var failed = await host.Runner.ContinueAsync(plan.Id, cancellationToken: Ct);

        Assert.Equal(RunStatus.Failed, failed.Run.Status);
        Assert.Contains("No space left on device", failed.Run.Error, StringComparison.Ordinal);
        var submitted = host.Backend.Jobs.Keys.Where(k => host.Backend.Jobs[k].Model.StartsWith("image", StringComparison.Ordinal)).ToHashSet();
        Assert.NotEmpty(submitted);
        Assert.Subset(submitted, host.Backend.Cancelled.ToHashSet()); // every unrecorded job was cancelled at once
    }
}

/// <summary>A store that forwards every call to another and lets a test act around some of them.</summary>
public class StoreHook : DispatchProxy
{
    private ICheckpointStore _inner = null!;

    public Func<ContinuationRequest, Task>? AfterContinue { get; set; }

    public Func<RunState, Exception?>? OnUpdateRunState { get; set; }

    public Func<Exception?>? OnSaveJob { get; set; }

    public static ICheckpointStore Wrap(ICheckpointStore inner)
    {
        var proxy = Create<ICheckpointStore, StoreHook>();
        ((StoreHook)(object)proxy)._inner = inner;
        return proxy;
    }

    public static StoreHook Of(ICheckpointStore store) => (StoreHook)(object)store;

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        if (targetMethod.Name == nameof(ICheckpointStore.UpdateRunStateAsync) && OnUpdateRunState?.Invoke((RunState)args![1]!) is { } error)
        {
            return Task.FromException<Run>(error);
        }

        if (targetMethod.Name == nameof(ICheckpointStore.SaveJobAsync) && OnSaveJob?.Invoke() is { } saveError)
        {
            return Task.FromException(saveError);
        }

        var result = targetMethod.Invoke(_inner, args);
        if (targetMethod.Name == nameof(ICheckpointStore.ContinueAsync) && AfterContinue is { } after)
        {
            var request = (ContinuationRequest)args![0]!;
            return ThenAsync((Task<Continuation>)result!, request, after);
        }

        return result;
    }

    private static async Task<Continuation> ThenAsync(Task<Continuation> call, ContinuationRequest request, Func<ContinuationRequest, Task> after)
    {
        var continuation = await call.ConfigureAwait(false);
        if (!continuation.Existing)
        {
            await after(request).ConfigureAwait(false);
        }

        return continuation;
    }
}
