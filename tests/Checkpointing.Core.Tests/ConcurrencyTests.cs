using Checkpointing.Tests.Support;

namespace Checkpointing.Tests;

public class ConcurrencyTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Fifty_concurrent_edits_of_one_artifact_lose_no_update()
    {
        await using var host = new TestHost();
        var plan = (await host.StartAsync()).Checkpoint!;

        // Each edit adds its own style key; a lost update would drop a key.
        await Task.WhenAll(Enumerable.Range(1, 50).Select(i => Task.Run(
            () => host.Editor.PatchJsonAsync(plan.Id, "spec", "spec", "{\"style\":{\"k" + i + "\":" + i + "}}", new EditOptions(EditedBy: $"editor-{i}"), Ct), Ct)));

        var artifact = await host.Queries.GetArtifactAsync(plan.Id, "spec", "spec", Ct);
        Assert.Equal(51, artifact.Version);
        var history = await host.Queries.GetArtifactHistoryAsync(plan.Id, "spec", "spec", Ct);
        Assert.Equal(50, history.Count(v => v.Version < artifact.Version));
        Assert.Equal(Enumerable.Range(1, 51), history.Select(v => v.Version));
        Assert.Equal(Enumerable.Range(1, 50).Select(i => $"editor-{i}").Order(), history.Skip(1).Select(v => v.CreatedBy!).Order());
        var style = artifact.Content.Json!.Value.GetProperty("style");
        Assert.All(Enumerable.Range(1, 50), i => Assert.Equal(i, style.GetProperty($"k{i}").GetInt32()));
    }

    [Fact]
    public async Task Concurrent_edits_that_pass_the_version_they_saw_conflict_instead_of_overwriting()
    {
        await using var host = new TestHost();
        var plan = (await host.StartAsync()).Checkpoint!;

        var results = await Task.WhenAll(Enumerable.Range(1, 10).Select(i => Task.Run(async () =>
        {
            try
            {
                await host.Editor.PatchJsonAsync(plan.Id, "spec", "spec", $$"""{"template":"t{{i}}"}""", new EditOptions(ExpectedVersion: 1), Ct);
                return true;
            }
            catch (ConcurrencyConflictException)
            {
                return false;
            }
        }, Ct)));

        Assert.Equal(1, results.Count(ok => ok));
        Assert.Equal(2, (await host.Queries.GetArtifactAsync(plan.Id, "spec", "spec", Ct)).Version);
    }

    [Fact]
    public async Task Twenty_concurrent_forks_of_main_get_twenty_distinct_names()
    {
        await using var host = new TestHost();
        var plan = (await host.StartAsync()).Checkpoint!;

        var branches = await Task.WhenAll(Enumerable.Range(1, 20).Select(_ => Task.Run(
            () => host.Store.CreateBranchAsync(plan.RunId, BranchNames.Main, plan.Id, DateTimeOffset.UtcNow, Ct), Ct)));

        Assert.Equal(Enumerable.Range(1, 20).Select(i => $"main-{i}").Order(), branches.Select(b => b.Name).Order());
    }

    [Fact]
    public async Task Concurrent_continues_of_one_edited_checkpoint_fork_once()
    {
        await using var host = new TestHost();
        var plan = (await host.StartAsync()).Checkpoint!;
        await host.Editor.PatchJsonAsync(plan.Id, "spec", "spec", """{"template":"v2"}""", cancellationToken: Ct);

        var results = await Task.WhenAll(Enumerable.Range(1, 8).Select(_ => Task.Run(async () =>
        {
            try
            {
                return await host.Runner.ContinueAsync(plan.Id, cancellationToken: Ct);
            }
            catch (InvalidStateException)
            {
                return null; // the phase was already running in this process
            }
        }, Ct)));

        Assert.All(results.OfType<ContinueResult>(), r => Assert.Equal("main-1", r.Branch));
        Assert.Equal(["main", "main-1"], (await host.Store.ListBranchesAsync(plan.RunId, Ct)).Select(b => b.Name));
        Assert.Single(await host.Store.ListCheckpointsAsync(plan.RunId, "main-1", Ct));
    }
}

public class CrossProcessContinueTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Two_processes_continuing_one_checkpoint_at_once_run_the_next_phase_once()
    {
        // Two hosts on one store stand for two processes: neither sees the other's in-process guard.
        var store = new InMemoryCheckpointStore();
        await using var first = new TestHost(store: store);
        await using var second = new TestHost(store: store);
        var plan = (await first.StartAsync()).Checkpoint!;
        var release = new TaskCompletionSource();
        var started = new TaskCompletionSource();
        first.Backend.BeforeComplete = async (_, token) =>
        {
            started.TrySetResult();
            await release.Task.WaitAsync(token);
        };

        var running = first.Runner.ContinueAsync(plan.Id, cancellationToken: Ct);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);

        // The second caller waits for the phase the first one started, and then gets the same checkpoint.
        var meanwhileTask = second.Runner.ContinueAsync(plan.Id, cancellationToken: Ct);
        await Task.Delay(300, Ct);
        Assert.False(meanwhileTask.IsCompleted);
        release.SetResult();
        var result = await running;
        var meanwhile = await meanwhileTask;

        Assert.True(meanwhile.AlreadyContinued);
        Assert.Equal(result.Checkpoint!.Id, meanwhile.Checkpoint?.Id);
        Assert.Equal((RunStatus.Paused, 2, BranchNames.Main), (meanwhile.Run.Status, meanwhile.Run.CurrentPhase, meanwhile.Run.CurrentBranch));
        Assert.Equal(0, second.Backend.SubmitCount());
        Assert.Equal(RunStatus.Paused, result.Run.Status);
        Assert.Single(await store.ListCheckpointsAsync(plan.RunId, BranchNames.Main, Ct), c => c.Phase == 2);

        // Once it finished, continuing again returns the checkpoint it made.
        var again = await second.Runner.ContinueAsync(plan.Id, cancellationToken: Ct);
        Assert.Equal(result.Checkpoint!.Id, again.Checkpoint!.Id);
    }

    [Fact]
    public async Task Continuing_a_checkpoint_whose_next_phase_failed_runs_it_again()
    {
        await using var host = new TestHost();
        var plan = (await host.StartAsync()).Checkpoint!;
        var fail = true;
        host.Backend.FailWhen = _ => fail ? "model overloaded" : null;
        var failed = await host.Runner.ContinueAsync(plan.Id, cancellationToken: Ct);
        Assert.Equal(RunStatus.Failed, failed.Run.Status);

        fail = false;
        var again = await host.Runner.ContinueAsync(plan.Id, cancellationToken: Ct);

        Assert.False(again.AlreadyContinued);
        Assert.Equal((RunStatus.Paused, 2), (again.Run.Status, again.Checkpoint!.Phase));
    }
}

public class BusyRunTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Continuing_another_checkpoint_while_a_phase_of_the_run_executes_is_refused_and_records_nothing()
    {
        await using var host = new TestHost();
        var plan = (await host.StartAsync()).Checkpoint!;
        await host.Editor.PatchJsonAsync(plan.Id, "spec", "spec", """{"template":"v2"}""", cancellationToken: Ct);
        var storyboard = (await host.Runner.ContinueAsync(plan.Id, cancellationToken: Ct)).Checkpoint!;
        var release = new TaskCompletionSource();
        var started = new TaskCompletionSource();
        host.Backend.BeforeComplete = async (_, token) =>
        {
            started.TrySetResult();
            await release.Task.WaitAsync(token);
        };

        // Phase 3 runs from the storyboard; meanwhile someone continues the plan again after another edit.
        var running = host.Runner.ContinueAsync(storyboard.Id, cancellationToken: Ct);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await host.Editor.PatchJsonAsync(plan.Id, "spec", "spec", """{"template":"v3"}""", cancellationToken: Ct);
        var branches = (await host.Store.ListBranchesAsync(plan.RunId, Ct)).Count;

        var busy = await Assert.ThrowsAsync<RunBusyException>(() => host.Runner.ContinueAsync(plan.Id, cancellationToken: Ct));
        Assert.Equal(plan.RunId, busy.RunId);

        Assert.Equal(branches, (await host.Store.ListBranchesAsync(plan.RunId, Ct)).Count);
        release.SetResult();
        Assert.Equal(RunStatus.Paused, (await running).Run.Status);
        var later = await host.Runner.ContinueAsync(plan.Id, cancellationToken: Ct);
        Assert.Equal(("main-2", false), (later.Branch, later.AlreadyContinued));
    }
}
