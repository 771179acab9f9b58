namespace Checkpointing.Conformance;

public abstract partial class CheckpointStoreConformanceTests
{
    /// <summary>UpdateArtifact bumps the version and keeps every version readable.</summary>
    [Fact]
    public async Task UpdateArtifact_bumps_the_version_and_keeps_every_version_readable()
    {
        var (_, checkpoint) = await CreateRunWithCheckpointAsync();
        var original = (await Store.GetArtifactAsync(checkpoint.Id, "spec", "spec", Ct))!;

        var v2 = await Store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, 1, """{"beats":[9]}"""), Ct);
        var v3 = await Store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, 2, """{"beats":[9,10]}"""), Ct);

        Assert.Equal(original.Id, v2.Id);
        Assert.Equal(2, v2.Version);
        Assert.Equal(3, v3.Version);
        Assert.Equal("editor-1", v3.UpdatedBy);
        Assert.Equal("patch", v3.Reason);
        Assert.Equal(T0.AddHours(1).AddSeconds(2), v3.UpdatedAt);
        Assert.Equal("edited", v3.Metadata.Prompt);
        var current = (await Store.GetArtifactAsync(checkpoint.Id, "spec", "spec", Ct))!;
        Assert.Equal(3, current.Version);
        AssertJson("""{"beats":[9,10]}""", current.Content.Json);
        Assert.Equal("editor-1", current.UpdatedBy);

        var history = await Store.GetArtifactHistoryAsync(original.Id, Ct);
        Assert.Equal([1, 2, 3], history.Select(v => v.Version));
        Assert.Equal([null, 1, 2], history.Select(v => v.ParentVersion));
        AssertJson("""{"beats":[1,2,3]}""", history[0].Content.Json);
        AssertJson("""{"beats":[9]}""", history[1].Content.Json);
        AssertJson("""{"beats":[9,10]}""", history[2].Content.Json);
        Assert.Equal("prompt for spec", history[0].Metadata.Prompt);
        Assert.Equal("edited", history[1].Metadata.Prompt);
        Assert.Equal("patch", history[1].Reason);
        Assert.Equal("editor-1", history[1].CreatedBy);
        Assert.Equal(T0.AddHours(1).AddSeconds(1), history[1].CreatedAt);
        Assert.All(history, v => Assert.Equal(original.Id, v.ArtifactId));

        for (var version = 1; version <= 3; version++)
        {
            var read = await Store.GetArtifactVersionAsync(original.Id, version, Ct);
            Assert.NotNull(read);
            Assert.Equal(version, read.Version);
            Assert.Equal(history[version - 1].Content, read.Content);
        }

        Assert.Null(await Store.GetArtifactVersionAsync(original.Id, 4, Ct));
        Assert.Null(await Store.GetArtifactVersionAsync(Guid.NewGuid(), 1, Ct));
        Assert.Empty(await Store.GetArtifactHistoryAsync(Guid.NewGuid(), Ct));
    }

    /// <summary>UpdateArtifact to a blob keeps the earlier json version.</summary>
    [Fact]
    public async Task UpdateArtifact_to_a_blob_keeps_the_earlier_json_version()
    {
        var run = await CreateRunAsync();
        var image = BlobArtifact("beat_image", "beat_1", "first", 1);
        var checkpoint = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, artifacts: [image]), Ct);
        var update = new ArtifactUpdate
        {
            CheckpointId = checkpoint.Id,
            Type = "beat_image",
            Key = "beat_1",
            ExpectedVersion = 1,
            Content = ArtifactContent.FromBlob(Blob("second")),
            Metadata = new ArtifactMetadata("closer", "flux-dev", 7, "job-2", 0.05m),
            UpdatedBy = "u",
            Reason = "regenerate",
            CostDelta = 0.05m,
            At = T0.AddDays(1),
        };

        var updated = await Store.UpdateArtifactAsync(update, Ct);

        Assert.Equal(Blob("second"), updated.Content.Blob);
        Assert.Equal(1, updated.UnitIndex);
        Assert.Equal(Blob("first"), (await Store.GetArtifactVersionAsync(image.Id, 1, Ct))!.Content.Blob);
        var v2 = (await Store.GetArtifactVersionAsync(image.Id, 2, Ct))!;
        Assert.Equal(Blob("second"), v2.Content.Blob);
        Assert.Equal("flux-dev", v2.Metadata.Model);
        Assert.Equal(7, v2.Metadata.Seed);
        Assert.Equal(0.05m, v2.Metadata.Cost);
    }

    /// <summary>UpdateArtifact adds its cost to the checkpoint and the run and may replace the output.</summary>
    [Fact]
    public async Task UpdateArtifact_adds_its_cost_to_the_checkpoint_and_the_run_and_may_replace_the_output()
    {
        var run = await CreateRunAsync();
        await Store.SaveUnitAsync(run.Id, "exec", new CompletedUnit(1, JsonArtifact("spec", "spec", "{}"), 0.4m), null, Ct);
        var checkpoint = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, cost: 0.4m, runCostDelta: 0.1m, executionKey: "exec"), Ct);
        Assert.Equal(0.5m, (await Store.GetRunAsync(run.Id, Ct))!.Cost);

        await Store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, 1, """{"beats":[]}""", costDelta: 0.02m), Ct);
        var afterFirst = (await Store.GetCheckpointAsync(checkpoint.Id, Ct))!;
        await Store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, 2, """{"beats":[1]}""", costDelta: 0.03m, newOutput: Json("""{"beats":1,"edited":true}""")), Ct);
        var afterSecond = (await Store.GetCheckpointAsync(checkpoint.Id, Ct))!;

        Assert.Equal(0.42m, afterFirst.Cost);
        AssertJson("""{"beats":3,"title":"Test"}""", afterFirst.Output);
        Assert.Equal(0.45m, afterSecond.Cost);
        AssertJson("""{"beats":1,"edited":true}""", afterSecond.Output);
        Assert.Equal(0.55m, (await Store.GetRunAsync(run.Id, Ct))!.Cost);
    }

    /// <summary>UpdateArtifact with a stale version throws a conflict and changes nothing.</summary>
    [Fact]
    public async Task UpdateArtifact_with_a_stale_version_throws_a_conflict_and_changes_nothing()
    {
        var (run, checkpoint) = await CreateRunWithCheckpointAsync();
        await Store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, 1, """{"v":2}"""), Ct);
        var before = await SnapshotAsync(run.Id);

        await Assert.ThrowsAsync<ConcurrencyConflictException>(() => Store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, 1, """{"v":"lost"}""", costDelta: 5m, newOutput: Json("1")), Ct));
        await Assert.ThrowsAsync<ConcurrencyConflictException>(() => Store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, 3, """{"v":"future"}""", costDelta: 5m), Ct));

        Assert.Equal(before, await SnapshotAsync(run.Id));
        AssertJson("""{"v":2}""", (await Store.GetArtifactAsync(checkpoint.Id, "spec", "spec", Ct))!.Content.Json);
    }

    /// <summary>UpdateArtifact of an abandoned checkpoint throws and changes nothing.</summary>
    [Fact]
    public async Task UpdateArtifact_of_an_abandoned_checkpoint_throws_and_changes_nothing()
    {
        var (run, checkpoint) = await CreateRunWithCheckpointAsync();
        await Store.SetCheckpointStatusAsync(checkpoint.Id, CheckpointStatus.Abandoned, T0, Ct);
        var before = await SnapshotAsync(run.Id);

        var e = await Assert.ThrowsAsync<CheckpointAbandonedException>(() => Store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, 1, "{}", costDelta: 1m), Ct));

        Assert.Equal(checkpoint.Id, e.CheckpointId);
        Assert.Equal(before, await SnapshotAsync(run.Id));
    }

    /// <summary>UpdateArtifact of an abandoned checkpoint is refused before the version is checked.</summary>
    [Fact]
    public async Task UpdateArtifact_of_an_abandoned_checkpoint_is_refused_before_the_version_is_checked()
    {
        var (_, checkpoint) = await CreateRunWithCheckpointAsync();
        await Store.SetCheckpointStatusAsync(checkpoint.Id, CheckpointStatus.Abandoned, T0, Ct);

        await Assert.ThrowsAsync<CheckpointAbandonedException>(() => Store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, 9, "{}"), Ct));
        await Assert.ThrowsAsync<CheckpointAbandonedException>(() => Store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, 1, "{}", type: "nope"), Ct));
    }

    /// <summary>UpdateArtifact of an artifact the checkpoint does not hold throws and changes nothing.</summary>
    [Fact]
    public async Task UpdateArtifact_of_an_artifact_the_checkpoint_does_not_hold_throws_and_changes_nothing()
    {
        var (run, checkpoint) = await CreateRunWithCheckpointAsync();
        var other = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, artifacts: [JsonArtifact("notes", "n", "1")]), Ct);
        var before = await SnapshotAsync(run.Id);

        var e = await Assert.ThrowsAsync<ArtifactNotFoundException>(() => Store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, 1, "{}", costDelta: 1m, type: "notes", key: "n"), Ct));
        await Assert.ThrowsAsync<ArtifactNotFoundException>(() => Store.UpdateArtifactAsync(SpecUpdate(other.Id, 1, "{}", costDelta: 1m), Ct));

        Assert.Equal(checkpoint.Id, e.CheckpointId);
        Assert.Equal("notes", e.Type);
        Assert.Equal("n", e.Key);
        Assert.Equal(before, await SnapshotAsync(run.Id));
    }

    /// <summary>UpdateArtifact of an unknown checkpoint throws CheckpointNotFound.</summary>
    [Fact]
    public async Task UpdateArtifact_of_an_unknown_checkpoint_throws_CheckpointNotFound()
    {
        var id = Guid.NewGuid();

        var e = await Assert.ThrowsAsync<CheckpointNotFoundException>(() => Store.UpdateArtifactAsync(SpecUpdate(id, 1, "{}"), Ct));

        Assert.Equal(id, e.CheckpointId);
    }

    /// <summary>UpdateArtifact of an approved checkpoint is allowed.</summary>
    [Fact]
    public async Task UpdateArtifact_of_an_approved_checkpoint_is_allowed()
    {
        var (_, checkpoint) = await CreateRunWithCheckpointAsync();
        await Store.SetCheckpointStatusAsync(checkpoint.Id, CheckpointStatus.Approved, T0, Ct);

        var updated = await Store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, 1, """{"forked":true}"""), Ct);

        Assert.Equal(2, updated.Version);
        Assert.Equal(CheckpointStatus.Approved, (await Store.GetCheckpointAsync(checkpoint.Id, Ct))!.Status);
    }

    /// <summary>Continue without fork approves the checkpoint on its branch and is idempotent.</summary>
    [Fact]
    public async Task Continue_without_fork_approves_the_checkpoint_on_its_branch_and_is_idempotent()
    {
        var (run, checkpoint) = await CreateRunWithCheckpointAsync();

        var first = await Store.ContinueAsync(new ContinuationRequest(checkpoint.Id, 0, Fork: false, T0.AddHours(1)), Ct);
        var approved = (await Store.GetCheckpointAsync(checkpoint.Id, Ct))!;
        var second = await Store.ContinueAsync(new ContinuationRequest(checkpoint.Id, 0, Fork: false, T0.AddHours(2)), Ct);

        Assert.Equal(checkpoint.Id, first.CheckpointId);
        Assert.Equal(0, first.Revision);
        Assert.Equal("main", first.Branch);
        Assert.False(first.BranchCreated);
        Assert.False(first.Existing);
        Assert.Equal(T0.AddHours(1), first.CreatedAt);
        Assert.Equal(CheckpointStatus.Approved, approved.Status);
        Assert.Equal(T0.AddHours(1), approved.ApprovedAt);
        Assert.True(second.Existing);
        Assert.Equal("main", second.Branch);
        Assert.False(second.BranchCreated);
        Assert.Equal(T0.AddHours(1), second.CreatedAt);
        Assert.Equal(T0.AddHours(1), (await Store.GetCheckpointAsync(checkpoint.Id, Ct))!.ApprovedAt);
        Assert.Single(await Store.ListBranchesAsync(run.Id, Ct));
    }

    /// <summary>Continue with fork creates a child branch once per revision.</summary>
    [Fact]
    public async Task Continue_with_fork_creates_a_child_branch_once_per_revision()
    {
        var (run, checkpoint) = await CreateRunWithCheckpointAsync();
        await Store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, 1, "{}"), Ct);

        var first = await Store.ContinueAsync(new ContinuationRequest(checkpoint.Id, 1, Fork: true, T0.AddHours(1)), Ct);
        var repeat = await Store.ContinueAsync(new ContinuationRequest(checkpoint.Id, 1, Fork: true, T0.AddHours(2)), Ct);
        await Store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, 2, "{}"), Ct);
        var afterEdit = await Store.ContinueAsync(new ContinuationRequest(checkpoint.Id, 2, Fork: true, T0.AddHours(3)), Ct);

        Assert.Equal("main-1", first.Branch);
        Assert.True(first.BranchCreated);
        Assert.False(first.Existing);
        Assert.Equal("main-1", repeat.Branch);
        Assert.True(repeat.BranchCreated);
        Assert.True(repeat.Existing);
        Assert.Equal("main-2", afterEdit.Branch);
        Assert.False(afterEdit.Existing);
        var branches = await Store.ListBranchesAsync(run.Id, Ct);
        Assert.Equal(["main", "main-1", "main-2"], branches.Select(b => b.Name));
        Assert.Equal("main", branches[1].ParentBranch);
        Assert.Equal(checkpoint.Id, branches[1].ForkedFrom);
        Assert.Equal(T0.AddHours(1), branches[1].CreatedAt);
        Assert.Equal(T0.AddHours(1), (await Store.GetCheckpointAsync(checkpoint.Id, Ct))!.ApprovedAt);
    }

    /// <summary>Continue sets the run running at the next phase and a repeat leaves it alone.</summary>
    [Fact]
    public async Task Continue_sets_the_run_running_at_the_next_phase_and_a_repeat_leaves_it_alone()
    {
        var (run, checkpoint) = await CreateRunWithCheckpointAsync();
        await Store.UpdateRunStateAsync(run.Id, new RunState(RunStatus.Paused, 1, "main", null), T0, Ct);

        var first = await Store.ContinueAsync(new ContinuationRequest(checkpoint.Id, 0, Fork: true, T0.AddHours(1)), Ct);
        var running = (await Store.GetRunAsync(run.Id, Ct))!;
        await Store.UpdateRunStateAsync(run.Id, new RunState(RunStatus.Failed, 2, first.Branch, checkpoint.Id, "boom"), T0.AddHours(2), Ct);
        var repeat = await Store.ContinueAsync(new ContinuationRequest(checkpoint.Id, 0, Fork: true, T0.AddHours(3)), Ct);
        var afterRepeat = (await Store.GetRunAsync(run.Id, Ct))!;

        Assert.Equal((RunStatus.Running, 2, "main-1", checkpoint.Id, null, T0.AddHours(1)),
            (running.Status, running.CurrentPhase, running.CurrentBranch, running.ParentCheckpointId, running.Error, running.UpdatedAt));
        Assert.True(repeat.Existing);
        Assert.Equal((RunStatus.Failed, "boom", T0.AddHours(2)), (afterRepeat.Status, afterRepeat.Error, afterRepeat.UpdatedAt));
    }

    /// <summary>Continue forks from the checkpoint branch.</summary>
    [Fact]
    public async Task Continue_forks_from_the_checkpoint_branch()
    {
        var (run, first) = await CreateRunWithCheckpointAsync();
        var fork = await Store.ContinueAsync(new ContinuationRequest(first.Id, 0, Fork: true, T0), Ct);
        var onFork = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, branch: fork.Branch, phase: 2, parentId: first.Id), Ct);

        var nested = await Store.ContinueAsync(new ContinuationRequest(onFork.Id, 0, Fork: true, T0), Ct);

        Assert.Equal("main-1-1", nested.Branch);
        Assert.Equal("main-1", (await Store.ListBranchesAsync(run.Id, Ct)).Single(b => b.Name == "main-1-1").ParentBranch);
    }

    /// <summary>Continue of an approved checkpoint keeps its ApprovedAt.</summary>
    [Fact]
    public async Task Continue_of_an_approved_checkpoint_keeps_its_ApprovedAt()
    {
        var (_, checkpoint) = await CreateRunWithCheckpointAsync();
        await Store.SetCheckpointStatusAsync(checkpoint.Id, CheckpointStatus.Approved, T0.AddMinutes(5), Ct);

        var continuation = await Store.ContinueAsync(new ContinuationRequest(checkpoint.Id, 0, Fork: true, T0.AddHours(5)), Ct);

        Assert.Equal("main-1", continuation.Branch);
        Assert.Equal(T0.AddMinutes(5), (await Store.GetCheckpointAsync(checkpoint.Id, Ct))!.ApprovedAt);
    }

    /// <summary>Continue of an abandoned checkpoint throws and changes nothing.</summary>
    [Fact]
    public async Task Continue_of_an_abandoned_checkpoint_throws_and_changes_nothing()
    {
        var (run, checkpoint) = await CreateRunWithCheckpointAsync();
        await Store.SetCheckpointStatusAsync(checkpoint.Id, CheckpointStatus.Abandoned, T0, Ct);
        var before = await SnapshotAsync(run.Id);

        var e = await Assert.ThrowsAsync<CheckpointAbandonedException>(() => Store.ContinueAsync(new ContinuationRequest(checkpoint.Id, 0, Fork: true, T0), Ct));

        Assert.Equal(checkpoint.Id, e.CheckpointId);
        Assert.Equal(before, await SnapshotAsync(run.Id));

        // Nothing was recorded: once the checkpoint is no longer abandoned, the same revision is a new continuation.
        await Store.SetCheckpointStatusAsync(checkpoint.Id, CheckpointStatus.Pending, T0, Ct);
        Assert.False((await Store.ContinueAsync(new ContinuationRequest(checkpoint.Id, 0, Fork: true, T0), Ct)).Existing);
    }

    /// <summary>Continue of an unknown checkpoint throws CheckpointNotFound.</summary>
    [Fact]
    public async Task Continue_of_an_unknown_checkpoint_throws_CheckpointNotFound()
    {
        var id = Guid.NewGuid();

        var e = await Assert.ThrowsAsync<CheckpointNotFoundException>(() => Store.ContinueAsync(new ContinuationRequest(id, 0, Fork: false, T0), Ct));

        Assert.Equal(id, e.CheckpointId);
    }

    /// <summary>Continuations are per checkpoint.</summary>
    [Fact]
    public async Task Continuations_are_per_checkpoint()
    {
        var (run, c1) = await CreateRunWithCheckpointAsync();
        var c2 = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, phase: 2, parentId: c1.Id), Ct);

        var a = await Store.ContinueAsync(new ContinuationRequest(c1.Id, 0, Fork: true, T0), Ct);
        var b = await Store.ContinueAsync(new ContinuationRequest(c2.Id, 0, Fork: true, T0), Ct);

        Assert.False(a.Existing);
        Assert.False(b.Existing);
        Assert.Equal("main-1", a.Branch);
        Assert.Equal("main-2", b.Branch);
        Assert.Equal(c2.Id, b.CheckpointId);
    }
}
