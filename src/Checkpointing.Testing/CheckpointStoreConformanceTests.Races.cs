namespace Checkpointing.Conformance;

public abstract partial class CheckpointStoreConformanceTests
{
    /// <summary>The store each concurrent caller of a race test uses; override to spread callers over several instances.</summary>
    /// <param name="caller">The caller's index, from 0.</param>
    protected virtual ICheckpointStore StoreForCaller(int caller) => Store;

    /// <summary>Concurrent edits with retry on conflict lose no update.</summary>
    [Fact]
    public async Task Concurrent_edits_with_retry_on_conflict_lose_no_update()
    {
        const int Writers = 50;
        var (run, checkpoint) = await CreateRunWithCheckpointAsync();
        var conflicts = 0;

        async Task EditAsync(int writer)
        {
            var store = StoreForCaller(writer);
            while (true)
            {
                var current = (await store.GetArtifactAsync(checkpoint.Id, "spec", "spec", Ct))!;
                try
                {
                    await store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, current.Version, $$"""{"writer":{{writer}}}""", costDelta: 0.01m), Ct);
                    return;
                }
                catch (ConcurrencyConflictException)
                {
                    Interlocked.Increment(ref conflicts);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Writers).Select(i => Task.Run(() => EditAsync(i), Ct)));

        var artifact = (await Store.GetArtifactAsync(checkpoint.Id, "spec", "spec", Ct))!;
        var history = await Store.GetArtifactHistoryAsync(artifact.Id, Ct);
        Assert.Equal(Writers + 1, artifact.Version);
        Assert.Equal(Writers + 1, history.Count);
        Assert.Equal(Enumerable.Range(1, Writers + 1), history.Select(v => v.Version));
        Assert.Equal(new int?[] { null }.Concat(Enumerable.Range(1, Writers).Select(v => (int?)v)), history.Select(v => v.ParentVersion));
        var writers = history.Skip(1).Select(v => v.Content.Json!.Value.GetProperty("writer").GetInt32()).Order();
        Assert.Equal(Enumerable.Range(0, Writers), writers);
        Assert.Equal(Writers * 0.01m, (await Store.GetRunAsync(run.Id, Ct))!.Cost);
        Assert.Equal(Writers * 0.01m, (await Store.GetCheckpointAsync(checkpoint.Id, Ct))!.Cost);
    }

    /// <summary>Concurrent forks of one branch get distinct names.</summary>
    [Fact]
    public async Task Concurrent_forks_of_one_branch_get_distinct_names()
    {
        const int Forks = 20;
        var (run, checkpoint) = await CreateRunWithCheckpointAsync();

        var branches = await Task.WhenAll(Enumerable.Range(0, Forks).Select(i => Task.Run(
            () => StoreForCaller(i).CreateBranchAsync(run.Id, "main", checkpoint.Id, T0.AddSeconds(i), Ct), Ct)));

        var expected = Enumerable.Range(1, Forks).Select(n => $"main-{n}").Order(StringComparer.Ordinal);
        Assert.Equal(expected, branches.Select(b => b.Name).Order(StringComparer.Ordinal));
        var listed = await Store.ListBranchesAsync(run.Id, Ct);
        Assert.Equal(Forks + 1, listed.Count);
        Assert.Equal(expected, listed.Skip(1).Select(b => b.Name).Order(StringComparer.Ordinal));
    }

    /// <summary>Concurrent continuations of one state create exactly one branch.</summary>
    [Fact]
    public async Task Concurrent_continuations_of_one_state_create_exactly_one_branch()
    {
        const int Callers = 16;
        var (run, checkpoint) = await CreateRunWithCheckpointAsync();
        await Store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, 1, "{}"), Ct);

        var results = await Task.WhenAll(Enumerable.Range(0, Callers).Select(i => Task.Run(
            () => StoreForCaller(i).ContinueAsync(new ContinuationRequest(checkpoint.Id, 1, Fork: true, T0.AddSeconds(i)), Ct), Ct)));

        Assert.Single(results, r => !r.Existing);
        Assert.All(results, r => Assert.Equal("main-1", r.Branch));
        Assert.All(results, r => Assert.True(r.BranchCreated));
        Assert.Equal(["main", "main-1"], (await Store.ListBranchesAsync(run.Id, Ct)).Select(b => b.Name));
    }

    /// <summary>Concurrent commits on one branch and phase get distinct versions.</summary>
    [Fact]
    public async Task Concurrent_commits_on_one_branch_and_phase_get_distinct_versions()
    {
        const int Commits = 12;
        var run = await CreateRunAsync();

        var saved = await Task.WhenAll(Enumerable.Range(0, Commits).Select(i => Task.Run(
            () => StoreForCaller(i).CommitCheckpointAsync(NewCheckpoint(run.Id, phase: 2, runCostDelta: 0.5m), Ct), Ct)));

        Assert.Equal(Enumerable.Range(1, Commits), saved.Select(c => c.Version).Order());
        Assert.Equal(Commits * 0.5m, (await Store.GetRunAsync(run.Id, Ct))!.Cost);
        Assert.Equal(Commits, (await Store.ListCheckpointsAsync(run.Id, "main", Ct)).Count);
    }

    /// <summary>Concurrent unit saves add every cost.</summary>
    [Fact]
    public async Task Concurrent_unit_saves_add_every_cost()
    {
        const int Units = 24;
        var run = await CreateRunAsync();

        await Task.WhenAll(Enumerable.Range(1, Units).Select(i => Task.Run(
            () => StoreForCaller(i).SaveUnitAsync(run.Id, "exec", new CompletedUnit(i, BlobArtifact("chunk", $"chunk_{i}", $"c{i}", i), 0.1m), null, Ct), Ct)));

        Assert.Equal(Enumerable.Range(1, Units), (await Store.GetUnitsAsync(run.Id, "exec", Ct)).Select(u => u.UnitIndex));
        Assert.Equal(Units * 0.1m, (await Store.GetRunAsync(run.Id, Ct))!.Cost);
    }
}
