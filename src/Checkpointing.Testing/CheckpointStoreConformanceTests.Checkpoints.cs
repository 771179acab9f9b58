namespace Checkpointing.Conformance;

public abstract partial class CheckpointStoreConformanceTests
{
    /// <summary>CommitCheckpoint saves the checkpoint and every artifact at version 1.</summary>
    [Fact]
    public async Task CommitCheckpoint_saves_the_checkpoint_and_every_artifact_at_version_1()
    {
        var run = await CreateRunAsync();
        var parent = Guid.NewGuid();
        var spec = JsonArtifact("spec", "spec", """{"beats":[{"id":"b1","duration":4}]}""");
        var image = BlobArtifact("beat_image", "beat_1", "image one", unitIndex: 1, cost: 0.03m);
        var input = NewCheckpoint(run.Id, phase: 2, artifacts: [spec, image], parentId: parent, cost: 0.03m, parentRevision: 3);

        var saved = await Store.CommitCheckpointAsync(input, Ct);
        var read = await Store.GetCheckpointAsync(input.Id, Ct);

        foreach (var c in new[] { saved, read! })
        {
            Assert.Equal(input.Id, c.Id);
            Assert.Equal(run.Id, c.RunId);
            Assert.Equal("main", c.Branch);
            Assert.Equal(2, c.Phase);
            Assert.Equal(1, c.Version);
            Assert.Equal(parent, c.ParentId);
            Assert.Equal(CheckpointStatus.Pending, c.Status);
            Assert.Null(c.ApprovedAt);
            Assert.Equal(input.CreatedAt, c.CreatedAt);
            AssertJson("""{"title":"Test","beats":3}""", c.Output);
            Assert.Equal(0.03m, c.Cost);
            Assert.Equal("user-7", c.CreatedBy);
            Assert.Equal("first try", c.EditDescription);
            Assert.Equal(3, c.ParentRevision);
            Assert.Equal(0, c.Revision);
        }

        var artifacts = await Store.GetArtifactsAsync(input.Id, Ct);
        Assert.Equal(2, artifacts.Count);
        var readImage = Assert.Single(artifacts, a => a.Type == "beat_image");
        Assert.Equal(image.Id, readImage.Id);
        Assert.Equal(input.Id, readImage.CheckpointId);
        Assert.Equal("beat_1", readImage.Key);
        Assert.Equal(1, readImage.Version);
        Assert.Equal(1, readImage.UnitIndex);
        Assert.Equal(image.Content, readImage.Content);
        Assert.Equal(Blob("image one"), readImage.Content.Blob);
        Assert.False(readImage.Content.IsJson);
        Assert.Equal("a prompt", readImage.Metadata.Prompt);
        Assert.Equal("flux-schnell", readImage.Metadata.Model);
        Assert.Equal(42, readImage.Metadata.Seed);
        Assert.Equal("job-beat_1", readImage.Metadata.ExternalJobId);
        Assert.Equal(0.03m, readImage.Metadata.Cost);
        AssertJson("""{"steps":4}""", readImage.Metadata.Extra);
        Assert.Equal(input.CreatedAt, readImage.UpdatedAt);
        Assert.Equal("user-7", readImage.UpdatedBy);
        Assert.Null(readImage.Reason);
        var readSpec = Assert.Single(artifacts, a => a.Type == "spec");
        Assert.True(readSpec.Content.IsJson);
        AssertJson("""{"beats":[{"id":"b1","duration":4}]}""", readSpec.Content.Json);
        Assert.Null(readSpec.UnitIndex);
        Assert.Null(readSpec.Metadata.Extra);

        var history = Assert.Single(await Store.GetArtifactHistoryAsync(image.Id, Ct));
        Assert.Equal(1, history.Version);
        Assert.Null(history.ParentVersion);
        Assert.Equal(image.Content, history.Content);
        Assert.Equal(input.CreatedAt, history.CreatedAt);
        Assert.Equal("user-7", history.CreatedBy);
    }

    /// <summary>CommitCheckpoint numbers versions per run branch and phase.</summary>
    [Fact]
    public async Task CommitCheckpoint_numbers_versions_per_run_branch_and_phase()
    {
        var (run, first) = await CreateRunWithCheckpointAsync();
        await Store.CreateBranchAsync(run.Id, "main", first.Id, T0, Ct);
        var other = await CreateRunAsync();

        var second = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id), Ct);
        var third = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id), Ct);
        var phase2 = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, phase: 2), Ct);
        var onFork = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, branch: "main-1"), Ct);
        var onFork2 = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, branch: "main-1"), Ct);
        var otherRun = await Store.CommitCheckpointAsync(NewCheckpoint(other.Id), Ct);
        var phase2Again = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, phase: 2), Ct);

        Assert.Equal([1, 2, 3, 1, 1, 2, 1, 2], new[] { first, second, third, phase2, onFork, onFork2, otherRun, phase2Again }.Select(c => c.Version));
        Assert.Equal(3, (await Store.GetCheckpointAsync(third.Id, Ct))!.Version);
    }

    /// <summary>CommitCheckpoint with a checkpoint of no artifacts is allowed.</summary>
    [Fact]
    public async Task CommitCheckpoint_with_a_checkpoint_of_no_artifacts_is_allowed()
    {
        var run = await CreateRunAsync();

        var saved = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, artifacts: []), Ct);

        Assert.NotNull(await Store.GetCheckpointAsync(saved.Id, Ct));
        Assert.Empty(await Store.GetArtifactsAsync(saved.Id, Ct));
    }

    /// <summary>CommitCheckpoint with a duplicate type and key throws and saves nothing.</summary>
    [Fact]
    public async Task CommitCheckpoint_with_a_duplicate_type_and_key_throws_and_saves_nothing()
    {
        var (run, existing) = await CreateRunWithCheckpointAsync();
        await Store.SaveUnitAsync(run.Id, "exec-1", new CompletedUnit(1, BlobArtifact("beat_image", "beat_1", "u1", 1), 0.5m), null, Ct);
        var before = await SnapshotAsync(run.Id, "exec-1");
        var first = BlobArtifact("beat_image", "beat_1", "one", 1);
        var twin = BlobArtifact("beat_image", "beat_1", "two", 1);
        var input = NewCheckpoint(run.Id, phase: 2, artifacts: [JsonArtifact("spec", "spec", "{}"), first, twin], runCostDelta: 3m, executionKey: "exec-1", parentId: existing.Id);

        await Assert.ThrowsAsync<InvalidStateException>(() => Store.CommitCheckpointAsync(input, Ct));

        Assert.Equal(before, await SnapshotAsync(run.Id, "exec-1"));
        Assert.Null(await Store.GetCheckpointAsync(input.Id, Ct));
        Assert.Empty(await Store.GetArtifactsAsync(input.Id, Ct));
        Assert.Empty(await Store.GetArtifactHistoryAsync(first.Id, Ct));
        Assert.Empty(await Store.GetArtifactHistoryAsync(input.Artifacts[0].Id, Ct));
        Assert.DoesNotContain(Blob("one").Hash, await ToListAsync(Store.ListReferencedBlobsAsync(Ct)));

        // The failed commit used no version number.
        Assert.Equal(1, (await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, phase: 2), Ct)).Version);
    }

    /// <summary>CommitCheckpoint with an artifact id that another checkpoint holds throws and saves none of its artifacts.</summary>
    [Fact]
    public async Task CommitCheckpoint_with_an_existing_artifact_id_throws_and_saves_none_of_its_artifacts()
    {
        var (run, existing) = await CreateRunWithCheckpointAsync();
        var taken = (await Store.GetArtifactsAsync(existing.Id, Ct))[0];
        var before = await SnapshotAsync(run.Id);
        var first = JsonArtifact("beat", "beat_1", "{}");
        var last = JsonArtifact("beat", "beat_3", "{}");
        var input = NewCheckpoint(run.Id, phase: 2, artifacts: [first, JsonArtifact("beat", "beat_2", "{}") with { Id = taken.Id }, last], runCostDelta: 3m);

        await Assert.ThrowsAsync<InvalidStateException>(() => Store.CommitCheckpointAsync(input, Ct));

        Assert.Equal(before, await SnapshotAsync(run.Id));
        Assert.Null(await Store.GetCheckpointAsync(input.Id, Ct));
        Assert.Empty(await Store.GetArtifactHistoryAsync(first.Id, Ct));
        Assert.Equal(1, Assert.Single(await Store.GetArtifactHistoryAsync(taken.Id, Ct)).Version);
        Assert.Equal(existing.Id, (await Store.GetArtifactAsync(existing.Id, taken.Type, taken.Key, Ct))?.CheckpointId);

        // The ids the failed commit did not share are free.
        var retry = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, phase: 2, artifacts: [first, last]), Ct);
        Assert.Equal([first.Id, last.Id], (await Store.GetArtifactsAsync(retry.Id, Ct)).Select(a => a.Id));
    }

    /// <summary>CommitCheckpoint with one artifact id twice throws and saves nothing, for few artifacts and for many.</summary>
    /// <param name="count">The number of artifacts.</param>
    [Theory]
    [InlineData(2)]
    [InlineData(16)]
    [InlineData(40)]
    public async Task CommitCheckpoint_with_one_artifact_id_twice_throws_and_saves_nothing(int count)
    {
        var run = await CreateRunAsync();
        var artifacts = Enumerable.Range(1, count).Select(i => JsonArtifact("beat", $"beat_{i}", "{}")).ToArray();
        artifacts[^1] = artifacts[^1] with { Id = artifacts[count / 2 - 1].Id };
        var input = NewCheckpoint(run.Id, artifacts: artifacts);

        var e = await Assert.ThrowsAsync<InvalidStateException>(() => Store.CommitCheckpointAsync(input, Ct));

        Assert.Equal(input.AlreadyExists().Message, e.Message);
        Assert.Null(await Store.GetCheckpointAsync(input.Id, Ct));
        Assert.Empty(await Store.GetArtifactHistoryAsync(artifacts[0].Id, Ct));
    }

    /// <summary>CommitCheckpoint on an unknown branch throws and saves nothing.</summary>
    [Fact]
    public async Task CommitCheckpoint_on_an_unknown_branch_throws_and_saves_nothing()
    {
        var run = await CreateRunAsync();
        await Store.SaveUnitAsync(run.Id, "exec-1", new CompletedUnit(1, BlobArtifact("beat_image", "beat_1", "u1", 1), 0.5m), null, Ct);
        var before = await SnapshotAsync(run.Id, "exec-1");
        var input = NewCheckpoint(run.Id, branch: "main-1", runCostDelta: 2m, executionKey: "exec-1");

        await Assert.ThrowsAsync<InvalidStateException>(() => Store.CommitCheckpointAsync(input, Ct));

        Assert.Equal(before, await SnapshotAsync(run.Id, "exec-1"));
        Assert.Null(await Store.GetCheckpointAsync(input.Id, Ct));
        Assert.Empty(await Store.GetArtifactHistoryAsync(input.Artifacts[0].Id, Ct));
    }

    /// <summary>CommitCheckpoint of an unknown run throws RunNotFound.</summary>
    [Fact]
    public async Task CommitCheckpoint_of_an_unknown_run_throws_RunNotFound()
    {
        var input = NewCheckpoint(Guid.NewGuid());

        var e = await Assert.ThrowsAsync<RunNotFoundException>(() => Store.CommitCheckpointAsync(input, Ct));

        Assert.Equal(input.RunId, e.RunId);
        Assert.Null(await Store.GetCheckpointAsync(input.Id, Ct));
    }

    /// <summary>CommitCheckpoint with an existing checkpoint id throws and keeps the original.</summary>
    [Fact]
    public async Task CommitCheckpoint_with_an_existing_checkpoint_id_throws_and_keeps_the_original()
    {
        var (run, existing) = await CreateRunWithCheckpointAsync();
        var before = await SnapshotAsync(run.Id);
        var input = NewCheckpoint(run.Id, phase: 3, runCostDelta: 9m) with { Id = existing.Id };

        await Assert.ThrowsAsync<InvalidStateException>(() => Store.CommitCheckpointAsync(input, Ct));

        Assert.Equal(before, await SnapshotAsync(run.Id));
        Assert.Equal(1, (await Store.GetCheckpointAsync(existing.Id, Ct))!.Phase);
    }

    /// <summary>CommitCheckpoint adds the run cost delta and clears only its execution journal.</summary>
    [Fact]
    public async Task CommitCheckpoint_adds_the_run_cost_delta_and_clears_only_its_execution_journal()
    {
        var run = await CreateRunAsync();
        await Store.SaveUnitAsync(run.Id, "exec-a", new CompletedUnit(1, BlobArtifact("beat_image", "beat_1", "a1", 1), 0.25m), null, Ct);
        await Store.SaveJobAsync(run.Id, "exec-a", "unit-1/0", "job-a", null, Ct);
        await Store.SaveUnitAsync(run.Id, "exec-b", new CompletedUnit(1, BlobArtifact("beat_image", "beat_1", "b1", 1), 0.5m), null, Ct);
        await Store.SaveJobAsync(run.Id, "exec-b", "unit-1/0", "job-b", null, Ct);

        await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, cost: 1.75m, runCostDelta: 1.5m, executionKey: "exec-a"), Ct);

        Assert.Equal(0.25m + 0.5m + 1.5m, (await Store.GetRunAsync(run.Id, Ct))!.Cost);
        Assert.Empty(await Store.GetUnitsAsync(run.Id, "exec-a", Ct));
        Assert.Null(await Store.GetJobAsync(run.Id, "exec-a", "unit-1/0", Ct));
        Assert.Single(await Store.GetUnitsAsync(run.Id, "exec-b", Ct));
        Assert.Equal("job-b", await Store.GetJobAsync(run.Id, "exec-b", "unit-1/0", Ct));
    }

    /// <summary>ListCheckpoints returns creation order optionally by branch.</summary>
    [Fact]
    public async Task ListCheckpoints_returns_creation_order_optionally_by_branch()
    {
        var (run, c1) = await CreateRunWithCheckpointAsync();
        await Store.CreateBranchAsync(run.Id, "main", c1.Id, T0, Ct);
        var other = await CreateRunAsync();
        await Store.CommitCheckpointAsync(NewCheckpoint(other.Id), Ct);

        // Creation times deliberately out of order: the order is the order of commits.
        var c2 = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, branch: "main-1", phase: 2, createdAt: T0.AddMinutes(30)), Ct);
        var c3 = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, phase: 2, createdAt: T0.AddMinutes(20)), Ct);
        var c4 = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, branch: "main-1", phase: 3, createdAt: T0.AddMinutes(10)), Ct);

        Assert.Equal([c1.Id, c2.Id, c3.Id, c4.Id], (await Store.ListCheckpointsAsync(run.Id, null, Ct)).Select(c => c.Id));
        Assert.Equal([c1.Id, c3.Id], (await Store.ListCheckpointsAsync(run.Id, "main", Ct)).Select(c => c.Id));
        Assert.Equal([c2.Id, c4.Id], (await Store.ListCheckpointsAsync(run.Id, "main-1", Ct)).Select(c => c.Id));
        Assert.Empty(await Store.ListCheckpointsAsync(run.Id, "main-9", Ct));
        Assert.Empty(await Store.ListCheckpointsAsync(Guid.NewGuid(), null, Ct));
    }

    /// <summary>GetCheckpoint of unknown id returns null.</summary>
    [Fact]
    public async Task GetCheckpoint_of_unknown_id_returns_null()
    {
        await CreateRunWithCheckpointAsync();

        Assert.Null(await Store.GetCheckpointAsync(Guid.NewGuid(), Ct));
    }

    /// <summary>SetCheckpointStatus sets ApprovedAt only once.</summary>
    [Fact]
    public async Task SetCheckpointStatus_sets_ApprovedAt_only_once()
    {
        var (_, checkpoint) = await CreateRunWithCheckpointAsync();

        var approved = await Store.SetCheckpointStatusAsync(checkpoint.Id, CheckpointStatus.Approved, T0.AddHours(1), Ct);
        var again = await Store.SetCheckpointStatusAsync(checkpoint.Id, CheckpointStatus.Approved, T0.AddHours(2), Ct);
        var abandoned = await Store.SetCheckpointStatusAsync(checkpoint.Id, CheckpointStatus.Abandoned, T0.AddHours(3), Ct);
        var read = await Store.GetCheckpointAsync(checkpoint.Id, Ct);

        Assert.Equal(CheckpointStatus.Approved, approved.Status);
        Assert.Equal(T0.AddHours(1), approved.ApprovedAt);
        Assert.Equal(T0.AddHours(1), again.ApprovedAt);
        Assert.Equal(CheckpointStatus.Abandoned, abandoned.Status);
        Assert.Equal(T0.AddHours(1), abandoned.ApprovedAt);
        Assert.Equal(CheckpointStatus.Abandoned, read!.Status);
        Assert.Equal(T0.AddHours(1), read.ApprovedAt);
        Assert.Equal(checkpoint.Version, read.Version);
    }

    /// <summary>SetCheckpointStatus to abandoned does not set ApprovedAt.</summary>
    [Fact]
    public async Task SetCheckpointStatus_to_abandoned_does_not_set_ApprovedAt()
    {
        var (_, checkpoint) = await CreateRunWithCheckpointAsync();

        var abandoned = await Store.SetCheckpointStatusAsync(checkpoint.Id, CheckpointStatus.Abandoned, T0.AddHours(1), Ct);

        Assert.Equal(CheckpointStatus.Abandoned, abandoned.Status);
        Assert.Null(abandoned.ApprovedAt);
        Assert.Null((await Store.GetCheckpointAsync(checkpoint.Id, Ct))!.ApprovedAt);
    }

    /// <summary>SetCheckpointStatus of unknown checkpoint throws CheckpointNotFound.</summary>
    [Fact]
    public async Task SetCheckpointStatus_of_unknown_checkpoint_throws_CheckpointNotFound()
    {
        var id = Guid.NewGuid();

        var e = await Assert.ThrowsAsync<CheckpointNotFoundException>(() => Store.SetCheckpointStatusAsync(id, CheckpointStatus.Approved, T0, Ct));

        Assert.Equal(id, e.CheckpointId);
    }

    /// <summary>GetArtifacts orders by type then unit index then key.</summary>
    [Fact]
    public async Task GetArtifacts_orders_by_type_then_unit_index_then_key()
    {
        var run = await CreateRunAsync();
        NewArtifact[] artifacts =
        [
            BlobArtifact("chunk", "chunk_2", "c2", 2),
            BlobArtifact("beat_image", "beat_10", "b10", 10),
            JsonArtifact("spec", "spec", "{}"),
            BlobArtifact("beat_image", "beat_2", "b2", 2),
            JsonArtifact("notes", "zeta", "1"),
            BlobArtifact("beat_image", "beat_1", "b1", 1),
            JsonArtifact("notes", "alpha", "2"),
            BlobArtifact("chunk", "chunk_1", "c1", 1),
        ];
        var checkpoint = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, artifacts: artifacts), Ct);

        var listed = await Store.GetArtifactsAsync(checkpoint.Id, Ct);

        Assert.Equal(
            ["beat_image/beat_1", "beat_image/beat_2", "beat_image/beat_10", "chunk/chunk_1", "chunk/chunk_2", "notes/alpha", "notes/zeta", "spec/spec"],
            listed.Select(a => $"{a.Type}/{a.Key}"));
        Assert.Empty(await Store.GetArtifactsAsync(Guid.NewGuid(), Ct));
    }

    /// <summary>GetArtifact finds by type and key and returns null otherwise.</summary>
    [Fact]
    public async Task GetArtifact_finds_by_type_and_key_and_returns_null_otherwise()
    {
        var run = await CreateRunAsync();
        var image = BlobArtifact("beat_image", "beat_1", "b1", 1);
        var checkpoint = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, artifacts: [image, JsonArtifact("spec", "spec", "{}")]), Ct);
        var otherCheckpoint = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, artifacts: [BlobArtifact("beat_image", "beat_2", "x", 2)]), Ct);

        var found = await Store.GetArtifactAsync(checkpoint.Id, "beat_image", "beat_1", Ct);

        Assert.Equal(image.Id, found!.Id);
        Assert.Null(await Store.GetArtifactAsync(checkpoint.Id, "beat_image", "beat_2", Ct));
        Assert.Null(await Store.GetArtifactAsync(checkpoint.Id, "chunk", "beat_1", Ct));
        Assert.Null(await Store.GetArtifactAsync(otherCheckpoint.Id, "beat_image", "beat_1", Ct));
        Assert.Null(await Store.GetArtifactAsync(Guid.NewGuid(), "beat_image", "beat_1", Ct));
    }
}
