namespace Checkpointing.Conformance;

public abstract partial class CheckpointStoreConformanceTests
{
    /// <summary>
    /// A fork names exactly the state it was built from: after 10 later edits of the parent's artifacts, the parent's
    /// artifacts at the recorded revision read back as they were when the continuation was recorded.
    /// </summary>
    [Fact]
    public async Task A_forks_pins_read_back_the_exact_versions_after_ten_later_edits()
    {
        var (run, checkpoint) = await CreateRunWithCheckpointAsync();
        var spec = (await Store.GetArtifactAsync(checkpoint.Id, "spec", "spec", Ct))!;
        var edited = await Store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, spec.Version, """{"beats":[9]}"""), Ct);
        var revision = (await Store.GetCheckpointAsync(checkpoint.Id, Ct))!.Revision;
        var continuation = await Store.ContinueAsync(new ContinuationRequest(checkpoint.Id, revision, Fork: true, T0.AddHours(1)), Ct);
        var child = await Store.CommitCheckpointAsync(
            NewCheckpoint(run.Id, branch: continuation.Branch, phase: 2, parentId: checkpoint.Id, parentRevision: continuation.Revision), Ct);

        var current = edited;
        for (var i = 0; i < 10; i++)
        {
            current = await Store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, current.Version, $$"""{"beats":[{{i}}],"later":true}"""), Ct);
        }

        var recorded = Assert.Single(await Store.ListContinuationsAsync(checkpoint.Id, Ct));
        var built = (await Store.GetCheckpointAsync(child.Id, Ct))!;
        Assert.Equal(1, revision);
        Assert.Equal(1, recorded.Revision);
        Assert.Equal(1, built.ParentRevision);
        var consumed = Assert.Single(await Store.GetArtifactsAsync(checkpoint.Id, built.ParentRevision!.Value, Ct));
        Assert.Equal((edited.Id, 2), (consumed.Id, consumed.Version));
        AssertJson("""{"beats":[9]}""", consumed.Content.Json);
        AssertJson("""{"beats":[9]}""", (await Store.GetArtifactVersionAsync(consumed.Id, consumed.Version, Ct))!.Content.Json);
        Assert.Equal(12, current.Version);
        Assert.Equal(11, (await Store.GetCheckpointAsync(checkpoint.Id, Ct))!.Revision);
        AssertJson("""{"beats":[9],"later":true}""", (await Store.GetArtifactAsync(checkpoint.Id, "spec", "spec", Ct))!.Content.Json);
    }

    /// <summary>
    /// Every edit bumps the checkpoint's revision and writes its version at it; the artifacts at any revision are each
    /// at the latest version written at or before it, so untouched artifacts stay at version 1.
    /// </summary>
    [Fact]
    public async Task Edits_bump_the_revision_and_the_artifacts_at_a_revision_are_exact()
    {
        var run = await CreateRunAsync();
        var checkpoint = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, artifacts:
        [
            JsonArtifact("spec", "spec", """{"v":"spec-1"}"""),
            JsonArtifact("beat", "beat_1", """{"v":"beat1-1"}""", unitIndex: 1),
            JsonArtifact("beat", "beat_2", """{"v":"beat2-1"}""", unitIndex: 2),
        ]), Ct);

        var spec2 = await Store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, 1, """{"v":"spec-2"}"""), Ct);
        var beat2 = await Store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, 1, """{"v":"beat1-2"}""", type: "beat", key: "beat_1"), Ct);
        await Store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, 2, """{"v":"spec-3"}"""), Ct);

        Assert.Equal(0, checkpoint.Revision);
        Assert.Equal(3, (await Store.GetCheckpointAsync(checkpoint.Id, Ct))!.Revision);
        Assert.Equal([0L, 1L, 3L], (await Store.GetArtifactHistoryAsync(spec2.Id, Ct)).Select(v => v.Revision));
        Assert.Equal([0L, 2L], (await Store.GetArtifactHistoryAsync(beat2.Id, Ct)).Select(v => v.Revision));
        string[] State(IReadOnlyList<Artifact> artifacts) => [.. artifacts.Select(a => $"{a.Key}@{a.Version}={a.Content.Json!.Value.GetProperty("v").GetString()}")];
        Assert.Equal(["beat_1@1=beat1-1", "beat_2@1=beat2-1", "spec@1=spec-1"], State(await Store.GetArtifactsAsync(checkpoint.Id, 0, Ct)));
        Assert.Equal(["beat_1@1=beat1-1", "beat_2@1=beat2-1", "spec@2=spec-2"], State(await Store.GetArtifactsAsync(checkpoint.Id, 1, Ct)));
        Assert.Equal(["beat_1@2=beat1-2", "beat_2@1=beat2-1", "spec@2=spec-2"], State(await Store.GetArtifactsAsync(checkpoint.Id, 2, Ct)));
        Assert.Equal(["beat_1@2=beat1-2", "beat_2@1=beat2-1", "spec@3=spec-3"], State(await Store.GetArtifactsAsync(checkpoint.Id, 3, Ct)));
        Assert.Equal(
            State(await Store.GetArtifactsAsync(checkpoint.Id, Ct)),
            State(await Store.GetArtifactsAsync(checkpoint.Id, 99, Ct)));
        Assert.Empty(await Store.GetArtifactsAsync(Guid.NewGuid(), 0, Ct));
    }

    /// <summary>A continuation at a revision the checkpoint has not reached is refused and nothing changes.</summary>
    [Fact]
    public async Task Continue_at_a_revision_the_checkpoint_has_not_reached_throws_and_changes_nothing()
    {
        var (run, checkpoint) = await CreateRunWithCheckpointAsync();
        var before = await SnapshotAsync(run.Id);

        var e = await Assert.ThrowsAsync<InvalidStateException>(() => Store.ContinueAsync(new ContinuationRequest(checkpoint.Id, 1, Fork: true, T0), Ct));
        await Assert.ThrowsAsync<InvalidStateException>(() => Store.ContinueAsync(new ContinuationRequest(checkpoint.Id, -1, Fork: false, T0), Ct));

        Assert.Contains("revision 0", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, await SnapshotAsync(run.Id));
        Assert.Empty(await Store.ListContinuationsAsync(checkpoint.Id, Ct));
    }
}
