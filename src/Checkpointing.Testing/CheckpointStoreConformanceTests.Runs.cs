namespace Checkpointing.Conformance;

public abstract partial class CheckpointStoreConformanceTests
{
    /// <summary>CreateRun then GetRun returns every field.</summary>
    [Fact]
    public async Task CreateRun_then_GetRun_returns_every_field()
    {
        var run = NewRun("owner-42", T0.ToOffset(TimeSpan.FromHours(2)), cost: 1.25m) with
        {
            AutoContinue = true,
            Status = RunStatus.Running,
            CurrentPhase = 2,
            CurrentBranch = "main",
            ParentCheckpointId = Guid.NewGuid(),
            Error = "none yet",
            UpdatedAt = T0.AddSeconds(5),
        };
        await Store.CreateRunAsync(run, Ct);

        var read = await Store.GetRunAsync(run.Id, Ct);

        Assert.NotNull(read);
        Assert.Equal(run.Id, read.Id);
        Assert.Equal("video", read.Pipeline);
        Assert.Equal("owner-42", read.OwnerId);
        AssertJson("""{"seconds":12,"prompt":"a red bicycle"}""", read.Input);
        Assert.True(read.AutoContinue);
        Assert.Equal(RunStatus.Running, read.Status);
        Assert.Equal(2, read.CurrentPhase);
        Assert.Equal("main", read.CurrentBranch);
        Assert.Equal(run.ParentCheckpointId, read.ParentCheckpointId);
        Assert.Equal("none yet", read.Error);
        Assert.Equal(1.25m, read.Cost);
        Assert.Equal(25.5m, read.Budget);
        Assert.Equal(run.CreatedAt, read.CreatedAt);
        Assert.Equal(run.UpdatedAt, read.UpdatedAt);
    }

    /// <summary>GetRun of unknown id returns null.</summary>
    [Fact]
    public async Task GetRun_of_unknown_id_returns_null()
    {
        await CreateRunAsync();

        Assert.Null(await Store.GetRunAsync(Guid.NewGuid(), Ct));
    }

    /// <summary>CreateRun with an existing id throws and keeps the first run.</summary>
    [Fact]
    public async Task CreateRun_with_an_existing_id_throws_and_keeps_the_first_run()
    {
        var run = await CreateRunAsync("owner-1");
        var before = await SnapshotAsync(run.Id);

        await Assert.ThrowsAsync<InvalidStateException>(() => Store.CreateRunAsync(run with { OwnerId = "intruder", Pipeline = "other" }, Ct));

        Assert.Equal(before, await SnapshotAsync(run.Id));
        Assert.Equal("owner-1", (await Store.GetRunAsync(run.Id, Ct))!.OwnerId);
        Assert.Empty(await Store.ListRunsAsync("intruder", 100, Ct));
    }

    /// <summary>CreateRun creates the main branch.</summary>
    [Fact]
    public async Task CreateRun_creates_the_main_branch()
    {
        var run = await CreateRunAsync();

        var branch = Assert.Single(await Store.ListBranchesAsync(run.Id, Ct));

        Assert.Equal(run.Id, branch.RunId);
        Assert.Equal(BranchNames.Main, branch.Name);
        Assert.Null(branch.ParentBranch);
        Assert.Null(branch.ForkedFrom);
        Assert.Equal(run.CreatedAt, branch.CreatedAt);
    }

    /// <summary>ListBranches of unknown run is empty.</summary>
    [Fact]
    public async Task ListBranches_of_unknown_run_is_empty()
    {
        await CreateRunAsync();

        Assert.Empty(await Store.ListBranchesAsync(Guid.NewGuid(), Ct));
    }

    /// <summary>ListRuns filters by owner newest first and honours the limit.</summary>
    [Fact]
    public async Task ListRuns_filters_by_owner_newest_first_and_honours_the_limit()
    {
        var a1 = await CreateRunAsync("alice", T0);
        var b1 = await CreateRunAsync("bob", T0.AddMinutes(1));
        var a2 = await CreateRunAsync("alice", T0.AddMinutes(2));
        var a3 = await CreateRunAsync("alice", T0.AddMinutes(3));

        var alice = await Store.ListRunsAsync("alice", 100, Ct);
        var all = await Store.ListRunsAsync(null, 100, Ct);
        var limited = await Store.ListRunsAsync("alice", 2, Ct);

        Assert.Equal([a3.Id, a2.Id, a1.Id], alice.Select(r => r.Id));
        Assert.Equal([a3.Id, a2.Id, b1.Id, a1.Id], all.Select(r => r.Id));
        Assert.Equal([a3.Id, a2.Id], limited.Select(r => r.Id));
        Assert.Empty(await Store.ListRunsAsync("nobody", 100, Ct));
    }

    /// <summary>ListRuns after a cursor continues where the page ended also between runs created at the same time.</summary>
    [Fact]
    public async Task ListRuns_after_a_cursor_continues_where_the_page_ended_also_between_runs_created_at_the_same_time()
    {
        var runs = new List<Run>();
        for (var i = 0; i < 5; i++)
        {
            runs.Add(await CreateRunAsync("alice", T0));
        }

        runs.Add(await CreateRunAsync("alice", T0.AddMinutes(1)));
        await CreateRunAsync("bob", T0);
        var all = await Store.ListRunsAsync("alice", 100, Ct);

        var paged = new List<Run>();
        RunCursor? cursor = null;
        for (var page = 0; page < 3; page++)
        {
            var next = await Store.ListRunsAsync("alice", 2, cursor, Ct);
            Assert.Equal(2, next.Count);
            paged.AddRange(next);
            cursor = RunCursor.After(next[^1]);
        }

        Assert.Empty(await Store.ListRunsAsync("alice", 2, cursor, Ct));
        Assert.Equal(runs[5].Id, all[0].Id);
        Assert.Equal(all.Select(r => r.Id), paged.Select(r => r.Id));
        Assert.Equal(runs.Select(r => r.Id).Order(), paged.Select(r => r.Id).Order());
    }

    /// <summary>SetRunBudget changes only the budget and the update time.</summary>
    [Fact]
    public async Task SetRunBudget_changes_only_the_budget_and_the_update_time()
    {
        var run = await CreateRunAsync();
        await Store.UpdateRunStateAsync(run.Id, new RunState(RunStatus.Failed, 2, "main", null, "over budget"), T0.AddMinutes(5), Ct);
        var before = (await Store.GetRunAsync(run.Id, Ct))!;

        var raised = await Store.SetRunBudgetAsync(run.Id, 99.25m, T0.AddHours(1), Ct);
        var read = (await Store.GetRunAsync(run.Id, Ct))!;
        var removed = await Store.SetRunBudgetAsync(run.Id, null, T0.AddHours(2), Ct);

        Assert.Equal(before with { Budget = 99.25m, UpdatedAt = T0.AddHours(1) }, raised with { Input = before.Input });
        Assert.Equal(99.25m, read.Budget);
        Assert.Equal(T0.AddHours(1), read.UpdatedAt);
        Assert.Null(removed.Budget);
        Assert.Null((await Store.GetRunAsync(run.Id, Ct))!.Budget);
        await Assert.ThrowsAsync<RunNotFoundException>(() => Store.SetRunBudgetAsync(Guid.NewGuid(), 1m, T0, Ct));
    }

    /// <summary>UpdateRunState sets the state and returns the updated run.</summary>
    [Fact]
    public async Task UpdateRunState_sets_the_state_and_returns_the_updated_run()
    {
        var run = await CreateRunAsync();
        var parent = Guid.NewGuid();

        var updated = await Store.UpdateRunStateAsync(run.Id, new RunState(RunStatus.Failed, 3, "main-1", parent, "model timed out"), T0.AddHours(2), Ct);
        var read = await Store.GetRunAsync(run.Id, Ct);

        foreach (var r in new[] { updated, read! })
        {
            Assert.Equal(RunStatus.Failed, r.Status);
            Assert.Equal(3, r.CurrentPhase);
            Assert.Equal("main-1", r.CurrentBranch);
            Assert.Equal(parent, r.ParentCheckpointId);
            Assert.Equal("model timed out", r.Error);
            Assert.Equal(T0.AddHours(2), r.UpdatedAt);
            Assert.Equal(run.CreatedAt, r.CreatedAt);
            Assert.Equal("owner-1", r.OwnerId);
        }

        var cleared = await Store.UpdateRunStateAsync(run.Id, new RunState(RunStatus.Paused, 1, "main", null), T0.AddHours(3), Ct);

        Assert.Equal(RunStatus.Paused, cleared.Status);
        Assert.Null(cleared.Error);
        Assert.Null(cleared.ParentCheckpointId);
        Assert.Equal(RunStatus.Paused, (await Store.GetRunAsync(run.Id, Ct))!.Status);
    }

    /// <summary>UpdateRunState of unknown run throws RunNotFound.</summary>
    [Fact]
    public async Task UpdateRunState_of_unknown_run_throws_RunNotFound()
    {
        var id = Guid.NewGuid();

        var e = await Assert.ThrowsAsync<RunNotFoundException>(() => Store.UpdateRunStateAsync(id, new RunState(RunStatus.Running, 1, "main", null), T0, Ct));

        Assert.Equal(id, e.RunId);
    }

    /// <summary>CreateBranch names children after the highest immediate child.</summary>
    [Fact]
    public async Task CreateBranch_names_children_after_the_highest_immediate_child()
    {
        var (run, checkpoint) = await CreateRunWithCheckpointAsync();

        var m1 = await Store.CreateBranchAsync(run.Id, "main", checkpoint.Id, T0.AddMinutes(10), Ct);
        var m2 = await Store.CreateBranchAsync(run.Id, "main", checkpoint.Id, T0.AddMinutes(11), Ct);
        var m11 = await Store.CreateBranchAsync(run.Id, "main-1", checkpoint.Id, T0.AddMinutes(12), Ct);
        var m3 = await Store.CreateBranchAsync(run.Id, "main", checkpoint.Id, T0.AddMinutes(13), Ct);
        var m12 = await Store.CreateBranchAsync(run.Id, "main-1", checkpoint.Id, T0.AddMinutes(14), Ct);
        var m111 = await Store.CreateBranchAsync(run.Id, "main-1-1", checkpoint.Id, T0.AddMinutes(15), Ct);

        Assert.Equal(["main-1", "main-2", "main-1-1", "main-3", "main-1-2", "main-1-1-1"], new[] { m1, m2, m11, m3, m12, m111 }.Select(b => b.Name));
        Assert.Equal("main", m1.ParentBranch);
        Assert.Equal("main-1", m11.ParentBranch);
        Assert.Equal(checkpoint.Id, m11.ForkedFrom);
        Assert.Equal(run.Id, m11.RunId);
        Assert.Equal(T0.AddMinutes(12), m11.CreatedAt);
        var listed = await Store.ListBranchesAsync(run.Id, Ct);
        Assert.Equal(["main", "main-1", "main-2", "main-1-1", "main-3", "main-1-2", "main-1-1-1"], listed.Select(b => b.Name));
        Assert.Equal("main-1", listed[3].ParentBranch);
        Assert.Equal(checkpoint.Id, listed[3].ForkedFrom);
    }

    /// <summary>CreateBranch counts per run.</summary>
    [Fact]
    public async Task CreateBranch_counts_per_run()
    {
        var (run1, checkpoint1) = await CreateRunWithCheckpointAsync();
        var (run2, checkpoint2) = await CreateRunWithCheckpointAsync();

        await Store.CreateBranchAsync(run1.Id, "main", checkpoint1.Id, T0, Ct);
        await Store.CreateBranchAsync(run1.Id, "main", checkpoint1.Id, T0, Ct);
        var other = await Store.CreateBranchAsync(run2.Id, "main", checkpoint2.Id, T0, Ct);

        Assert.Equal("main-1", other.Name);
    }

    /// <summary>CreateBranch from an unknown parent throws and creates nothing.</summary>
    [Fact]
    public async Task CreateBranch_from_an_unknown_parent_throws_and_creates_nothing()
    {
        var (run, checkpoint) = await CreateRunWithCheckpointAsync();
        var before = await SnapshotAsync(run.Id);

        await Assert.ThrowsAsync<InvalidStateException>(() => Store.CreateBranchAsync(run.Id, "main-7", checkpoint.Id, T0, Ct));

        Assert.Equal(before, await SnapshotAsync(run.Id));
    }

    /// <summary>CreateBranch of an unknown run throws RunNotFound.</summary>
    [Fact]
    public async Task CreateBranch_of_an_unknown_run_throws_RunNotFound()
    {
        var id = Guid.NewGuid();

        var e = await Assert.ThrowsAsync<RunNotFoundException>(() => Store.CreateBranchAsync(id, "main", Guid.NewGuid(), T0, Ct));

        Assert.Equal(id, e.RunId);
        Assert.Empty(await Store.ListBranchesAsync(id, Ct));
    }
}
