using System.Reflection;
using Checkpointing.Tests.Support;

namespace Checkpointing.Tests;

/// <summary>
/// The status views of a run (current checkpoint, tree, active branches, snapshot): what they show of forked branches,
/// competing leaves, terminal and abandoned checkpoints and cancelled runs, and that each reads the store once.
/// </summary>
public class StatusQueryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Status_shows_the_tree_the_leaf_of_every_branch_and_the_latest_pending_checkpoint()
    {
        await using var host = new TestHost();
        var started = await host.StartAsync();
        var runId = started.Run.Id;
        var c1 = started.Checkpoint!;
        await host.Store.SetCheckpointStatusAsync(c1.Id, CheckpointStatus.Approved, DateTimeOffset.UtcNow, Ct);
        var main1 = await host.Store.CreateBranchAsync(runId, BranchNames.Main, c1.Id, DateTimeOffset.UtcNow, Ct);
        var t = c1.CreatedAt;

        var c2 = await CommitAsync(host, runId, main1.Name, 2, c1.Id, t.AddMinutes(1));
        var c3 = await CommitAsync(host, runId, BranchNames.Main, 2, c1.Id, t.AddMinutes(20));
        var c4 = await CommitAsync(host, runId, main1.Name, 3, c2.Id, t.AddMinutes(3));

        // A second phase-2 version on main, committed later but created earlier: the leaf of main is still c3.
        var c5 = await CommitAsync(host, runId, BranchNames.Main, 2, c1.Id, t.AddMinutes(10));
        var main11 = await host.Store.CreateBranchAsync(runId, main1.Name, c4.Id, DateTimeOffset.UtcNow, Ct);
        var c6 = await CommitAsync(host, runId, main11.Name, 4, c4.Id, t.AddMinutes(5));
        await host.Store.SetCheckpointStatusAsync(c6.Id, CheckpointStatus.Approved, DateTimeOffset.UtcNow, Ct);

        var status = await host.Queries.GetStatusAsync(runId, Ct);

        Assert.Equal(runId, status.Run.Id);
        Assert.Equal(c5.Id, status.Current?.Id); // the latest pending in creation order
        Assert.Equal(["main", "main-1", "main-1-1"], status.Branches.Select(b => b.Name));
        Assert.Equal(
            [("main", c3.Id, true), ("main-1", c4.Id, true), ("main-1-1", c6.Id, false)], // c6 is at the terminal phase
            status.ActiveBranches.Select(b => (b.Branch, b.Leaf.Id, b.CanContinue)));
        var root = Assert.Single(status.Tree);
        Assert.Equal(c1.Id, root.Checkpoint.Id);
        Assert.Equal([c2.Id, c3.Id, c5.Id], root.Children.Select(n => n.Checkpoint.Id));
        var n4 = Assert.Single(root.Children[0].Children);
        Assert.Equal(c4.Id, n4.Checkpoint.Id);
        Assert.Equal(c6.Id, Assert.Single(n4.Children).Checkpoint.Id);
        Assert.Empty(root.Children[1].Children);
        Assert.Equal(status.Run.Cost, status.Cost);

        // The single views agree with the snapshot.
        Assert.Equal(c5.Id, (await host.Queries.GetCurrentCheckpointAsync(runId, Ct))?.Id);
        Assert.Equal(status.ActiveBranches, await host.Queries.GetActiveBranchesAsync(runId, Ct));
        Assert.Equal(Shape(status.Tree), Shape(await host.Queries.GetTreeAsync(runId, Ct)));

        // An abandoned leaf cannot be continued; a cancelled run continues nowhere.
        await host.Editor.AbandonAsync(c3.Id, Ct);
        Assert.Equal([false, true, false], (await host.Queries.GetActiveBranchesAsync(runId, Ct)).Select(b => b.CanContinue));
        await host.Runner.CancelAsync(runId, Ct);
        Assert.All(await host.Queries.GetActiveBranchesAsync(runId, Ct), b => Assert.False(b.CanContinue));
    }

    [Fact]
    public async Task Status_of_a_long_branch_builds_its_tree_without_running_out_of_stack()
    {
        const int count = 100_000;
        await using var host = new TestHost();
        var started = await host.StartAsync();
        var parent = started.Checkpoint!;
        for (var i = 1; i < count; i++)
        {
            parent = await CommitAsync(host, started.Run.Id, BranchNames.Main, 1, parent.Id, parent.CreatedAt.AddSeconds(1));
        }

        var status = await host.Queries.GetStatusAsync(started.Run.Id, Ct);

        var depth = 0;
        for (var node = Assert.Single(status.Tree); node is not null; node = node.Children.SingleOrDefault())
        {
            depth++;
        }

        Assert.Equal(count, depth);
        Assert.Equal(parent.Id, Assert.Single(status.ActiveBranches).Leaf.Id);
        Assert.Equal(parent.Id, status.Current?.Id);
    }

    [Fact]
    public async Task Each_status_view_is_one_call_to_the_store()
    {
        var calls = new List<string>();
        await using var host = new TestHost(store: CallRecorder.Wrap(new InMemoryCheckpointStore(), calls));
        var started = await host.StartAsync();
        var runId = started.Run.Id;

        async Task<string[]> CallsOf(Func<Task> query)
        {
            calls.Clear();
            await query();
            return [.. calls];
        }

        Assert.Equal(["GetRunContentsAsync"], await CallsOf(() => host.Queries.GetStatusAsync(runId, Ct)));
        Assert.Equal(["GetRunContentsAsync"], await CallsOf(() => host.Queries.GetTreeAsync(runId, Ct)));
        Assert.Equal(["GetRunContentsAsync"], await CallsOf(() => host.Queries.GetActiveBranchesAsync(runId, Ct)));
        Assert.Equal(["GetLatestCheckpointAsync"], await CallsOf(() => host.Queries.GetCurrentCheckpointAsync(runId, Ct)));
    }

    [Fact]
    public async Task Status_views_of_an_unknown_run_throw_RunNotFound()
    {
        await using var host = new TestHost();
        await host.StartAsync();
        var unknown = Guid.NewGuid();

        Assert.Equal(unknown, (await Assert.ThrowsAsync<RunNotFoundException>(() => host.Queries.GetStatusAsync(unknown, Ct))).RunId);
        Assert.Equal(unknown, (await Assert.ThrowsAsync<RunNotFoundException>(() => host.Queries.GetTreeAsync(unknown, Ct))).RunId);
        Assert.Equal(unknown, (await Assert.ThrowsAsync<RunNotFoundException>(() => host.Queries.GetActiveBranchesAsync(unknown, Ct))).RunId);
        Assert.Equal(unknown, (await Assert.ThrowsAsync<RunNotFoundException>(() => host.Queries.GetCurrentCheckpointAsync(unknown, Ct))).RunId);
    }

    /// <summary>Commits a checkpoint without artifacts (the views read only the checkpoints).</summary>
    private static Task<Checkpoint> CommitAsync(TestHost host, Guid runId, string branch, int phase, Guid parentId, DateTimeOffset createdAt) =>
        host.Store.CommitCheckpointAsync(new NewCheckpoint
        {
            Id = Guid.NewGuid(),
            RunId = runId,
            Branch = branch,
            Phase = phase,
            ParentId = parentId,
            Artifacts = [],
            CreatedAt = createdAt,
        }, Ct);

    private static string Shape(IReadOnlyList<CheckpointNode> nodes) =>
        "[" + string.Join(",", nodes.Select(n => n.Checkpoint.Id + Shape(n.Children))) + "]";

    /// <summary>A store that forwards every call to another and records the name of each method called.</summary>
    public class CallRecorder : DispatchProxy
    {
        private ICheckpointStore _inner = null!;
        private List<string> _calls = null!;

        public static ICheckpointStore Wrap(ICheckpointStore inner, List<string> calls)
        {
            var proxy = Create<ICheckpointStore, CallRecorder>();
            ((CallRecorder)(object)proxy)._inner = inner;
            ((CallRecorder)(object)proxy)._calls = calls;
            return proxy;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            ArgumentNullException.ThrowIfNull(targetMethod);
            lock (_calls)
            {
                _calls.Add(targetMethod.Name);
            }

            return targetMethod.Invoke(_inner, args);
        }
    }
}
