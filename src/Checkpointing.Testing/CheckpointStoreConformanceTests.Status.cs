using System.Text.Json;

namespace Checkpointing.Conformance;

public abstract partial class CheckpointStoreConformanceTests
{
    /// <summary>
    /// GetRunContents returns the run with its branches and checkpoints, each in creation order, exactly as GetRun,
    /// ListBranches and ListCheckpoints read them, and nothing of another run.
    /// </summary>
    [Fact]
    public async Task GetRunContents_returns_the_run_with_its_branches_and_checkpoints_in_creation_order()
    {
        var (run, c1) = await CreateRunWithCheckpointAsync();
        var main1 = await Store.CreateBranchAsync(run.Id, "main", c1.Id, T0.AddMinutes(2), Ct);
        var other = await CreateRunAsync();
        await Store.CommitCheckpointAsync(NewCheckpoint(other.Id), Ct);

        // Creation times and branch names deliberately out of order: the order is the order of commits and forks.
        var c2 = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, branch: main1.Name, phase: 2, parentId: c1.Id, createdAt: T0.AddMinutes(30), runCostDelta: 0.5m), Ct);
        var main2 = await Store.CreateBranchAsync(run.Id, "main", c1.Id, T0.AddMinutes(3), Ct);
        var main11 = await Store.CreateBranchAsync(run.Id, main1.Name, c2.Id, T0.AddMinutes(4), Ct);
        var c3 = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, branch: main2.Name, phase: 2, parentId: c1.Id, createdAt: T0.AddMinutes(20)), Ct);
        var c4 = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, branch: main11.Name, phase: 3, parentId: c2.Id, createdAt: T0.AddMinutes(10)), Ct);
        await Store.SetCheckpointStatusAsync(c2.Id, CheckpointStatus.Approved, T0.AddMinutes(40), Ct);
        await Store.SetCheckpointStatusAsync(c3.Id, CheckpointStatus.Abandoned, T0.AddMinutes(41), Ct);
        await Store.UpdateRunStateAsync(run.Id, new RunState(RunStatus.Paused, 3, main11.Name, c2.Id), T0.AddMinutes(42), Ct);

        var contents = await Store.GetRunContentsAsync(run.Id, Ct);

        Assert.NotNull(contents);
        Assert.Equal(["main", "main-1", "main-2", "main-1-1"], contents.Branches.Select(b => b.Name));
        Assert.Equal([c1.Id, c2.Id, c3.Id, c4.Id], contents.Checkpoints.Select(c => c.Id));
        Assert.Equal(
            [CheckpointStatus.Pending, CheckpointStatus.Approved, CheckpointStatus.Abandoned, CheckpointStatus.Pending],
            contents.Checkpoints.Select(c => c.Status));
        Assert.Equal((RunStatus.Paused, 3, 0.5m), (contents.Run.Status, contents.Run.CurrentPhase, contents.Run.Cost));

        // Field by field the same as the single reads.
        Assert.Equal(Serialized(await Store.GetRunAsync(run.Id, Ct)), Serialized(contents.Run));
        Assert.Equal(Serialized(await Store.ListBranchesAsync(run.Id, Ct)), Serialized(contents.Branches));
        Assert.Equal(Serialized(await Store.ListCheckpointsAsync(run.Id, null, Ct)), Serialized(contents.Checkpoints));
    }

    /// <summary>
    /// GetRunContents reads every field of a checkpoint as ListCheckpoints does, whatever the values: costs, times
    /// with an offset, authors that repeat or not (also beyond ASCII), missing optional fields.
    /// </summary>
    [Fact]
    public async Task GetRunContents_reads_every_checkpoint_field_as_ListCheckpoints()
    {
        var (run, c1) = await CreateRunWithCheckpointAsync();
        var offset = new DateTimeOffset(2024, 3, 1, 10, 15, 30, 123, TimeSpan.FromMinutes(330)).AddTicks(4560);
        var c2 = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, phase: 2, parentId: c1.Id, cost: 1.25m, createdAt: offset) with { CreatedBy = "zoë" }, Ct);
        var c3 = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, phase: 3, parentId: c2.Id, cost: 0.000001m) with { CreatedBy = "zoë", EditDescription = "réécrit ✓" }, Ct);
        var c4 = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, phase: 4, parentId: c3.Id) with { CreatedBy = null, EditDescription = null, Output = null }, Ct);
        await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, phase: 5, parentId: c4.Id) with { CreatedBy = "ana" }, Ct);
        await Store.SetCheckpointStatusAsync(c2.Id, CheckpointStatus.Approved, offset.AddHours(1), Ct);

        var contents = await Store.GetRunContentsAsync(run.Id, Ct);

        Assert.NotNull(contents);
        Assert.Equal(["user-7", "zoë", "zoë", null, "ana"], contents.Checkpoints.Select(c => c.CreatedBy));
        Assert.Equal([0m, 1.25m, 0.000001m, 0m, 0m], contents.Checkpoints.Select(c => c.Cost));
        Assert.Equal(offset, contents.Checkpoints[1].CreatedAt);
        Assert.Equal(Serialized(await Store.ListCheckpointsAsync(run.Id, null, Ct)), Serialized(contents.Checkpoints));
    }

    /// <summary>GetRunContents of a run without checkpoints returns the run with its main branch only.</summary>
    [Fact]
    public async Task GetRunContents_of_a_run_without_checkpoints_returns_its_main_branch_only()
    {
        var run = await CreateRunAsync();
        await Store.CommitCheckpointAsync(NewCheckpoint((await CreateRunAsync()).Id), Ct);

        var contents = await Store.GetRunContentsAsync(run.Id, Ct);

        Assert.NotNull(contents);
        Assert.Equal(run.Id, contents.Run.Id);
        var main = Assert.Single(contents.Branches);
        Assert.Equal((run.Id, "main", null, null, run.CreatedAt), (main.RunId, main.Name, main.ParentBranch, main.ForkedFrom, main.CreatedAt));
        Assert.Empty(contents.Checkpoints);
    }

    /// <summary>GetRunContents of an unknown run returns null.</summary>
    [Fact]
    public async Task GetRunContents_of_an_unknown_run_returns_null()
    {
        await CreateRunWithCheckpointAsync();

        Assert.Null(await Store.GetRunContentsAsync(Guid.NewGuid(), Ct));
    }

    /// <summary>
    /// GetLatestCheckpoint returns the run with its last checkpoint in creation order (not by creation time) that has
    /// the status, whatever the branch, and no checkpoint when none has it.
    /// </summary>
    [Fact]
    public async Task GetLatestCheckpoint_returns_the_run_with_its_last_checkpoint_of_the_status()
    {
        var (run, c1) = await CreateRunWithCheckpointAsync();
        var main1 = await Store.CreateBranchAsync(run.Id, "main", c1.Id, T0, Ct);
        var c2 = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, branch: main1.Name, phase: 2, parentId: c1.Id, createdAt: T0.AddMinutes(30)), Ct);
        var c3 = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, phase: 2, parentId: c1.Id, createdAt: T0.AddMinutes(20)), Ct);
        var c4 = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, branch: main1.Name, phase: 3, parentId: c2.Id, createdAt: T0.AddMinutes(10)), Ct);
        await Store.SetCheckpointStatusAsync(c1.Id, CheckpointStatus.Approved, T0.AddMinutes(40), Ct);
        await Store.SetCheckpointStatusAsync(c2.Id, CheckpointStatus.Approved, T0.AddMinutes(41), Ct);
        await Store.SetCheckpointStatusAsync(c4.Id, CheckpointStatus.Abandoned, T0.AddMinutes(42), Ct);
        var other = await CreateRunAsync();
        await Store.CommitCheckpointAsync(NewCheckpoint(other.Id), Ct); // a later pending checkpoint of another run

        var pending = await Store.GetLatestCheckpointAsync(run.Id, CheckpointStatus.Pending, Ct);
        var approved = await Store.GetLatestCheckpointAsync(run.Id, CheckpointStatus.Approved, Ct);
        var abandoned = await Store.GetLatestCheckpointAsync(run.Id, CheckpointStatus.Abandoned, Ct);

        Assert.Equal(c3.Id, pending?.Checkpoint?.Id);
        Assert.Equal(c2.Id, approved?.Checkpoint?.Id);
        Assert.Equal(c4.Id, abandoned?.Checkpoint?.Id);
        Assert.Equal(Serialized((await Store.ListCheckpointsAsync(run.Id, null, Ct))[2]), Serialized(pending!.Checkpoint));
        Assert.Equal(Serialized(await Store.GetRunAsync(run.Id, Ct)), Serialized(pending.Run));

        await Store.SetCheckpointStatusAsync(c3.Id, CheckpointStatus.Approved, T0.AddMinutes(43), Ct);
        var none = await Store.GetLatestCheckpointAsync(run.Id, CheckpointStatus.Pending, Ct);

        Assert.NotNull(none);
        Assert.Equal(run.Id, none.Run.Id);
        Assert.Null(none.Checkpoint);
        Assert.Equal(c3.Id, (await Store.GetLatestCheckpointAsync(run.Id, CheckpointStatus.Approved, Ct))?.Checkpoint?.Id);
    }

    /// <summary>GetLatestCheckpoint of a run without checkpoints returns the run and no checkpoint.</summary>
    [Fact]
    public async Task GetLatestCheckpoint_of_a_run_without_checkpoints_returns_the_run_only()
    {
        var run = await CreateRunAsync();

        var read = await Store.GetLatestCheckpointAsync(run.Id, CheckpointStatus.Pending, Ct);

        Assert.NotNull(read);
        Assert.Equal(run.Id, read.Run.Id);
        Assert.Null(read.Checkpoint);
    }

    /// <summary>GetLatestCheckpoint of an unknown run returns null.</summary>
    [Fact]
    public async Task GetLatestCheckpoint_of_an_unknown_run_returns_null()
    {
        await CreateRunWithCheckpointAsync();

        Assert.Null(await Store.GetLatestCheckpointAsync(Guid.NewGuid(), CheckpointStatus.Pending, Ct));
    }

    private static string Serialized<T>(T value) => JsonSerializer.Serialize(value, SnapshotOptions);
}
