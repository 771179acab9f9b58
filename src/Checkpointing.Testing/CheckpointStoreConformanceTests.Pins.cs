namespace Checkpointing.Conformance;

public abstract partial class CheckpointStoreConformanceTests
{
    /// <summary>
    /// A fork's pins keep naming exactly the versions it was built from: after 10 later edits of those artifacts, the
    /// pinned versions read back as they were when the continuation was recorded.
    /// </summary>
    [Fact]
    public async Task A_forks_pins_read_back_the_exact_versions_after_ten_later_edits()
    {
        var (run, checkpoint) = await CreateRunWithCheckpointAsync();
        var spec = (await Store.GetArtifactAsync(checkpoint.Id, "spec", "spec", Ct))!;
        var edited = await Store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, spec.Version, """{"beats":[9]}"""), Ct);
        var pins = new[] { new ArtifactPin(edited.Id, checkpoint.Id, checkpoint.Phase, "spec", "spec", edited.Version) };
        var continuation = await Store.ContinueAsync(new ContinuationRequest(checkpoint.Id, "spec:2", Fork: true, T0.AddHours(1)) { Pins = pins }, Ct);
        var child = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, branch: continuation.Branch, phase: 2, parentId: checkpoint.Id, consumed: continuation.Pins), Ct);

        var current = edited;
        for (var i = 0; i < 10; i++)
        {
            current = await Store.UpdateArtifactAsync(SpecUpdate(checkpoint.Id, current.Version, $$"""{"beats":[{{i}}],"later":true}"""), Ct);
        }

        var recorded = Assert.Single(await Store.ListContinuationsAsync(checkpoint.Id, Ct));
        var consumed = Assert.Single((await Store.GetCheckpointAsync(child.Id, Ct))!.Consumed);
        Assert.Equal(pins, recorded.Pins);
        Assert.Equal(pins[0], consumed);
        var read = (await Store.GetArtifactVersionAsync(consumed.ArtifactId, consumed.Version, Ct))!;
        AssertJson("""{"beats":[9]}""", read.Content.Json);
        Assert.Equal(12, current.Version);
        AssertJson("""{"beats":[9],"later":true}""", (await Store.GetArtifactAsync(checkpoint.Id, "spec", "spec", Ct))!.Content.Json);
    }
}
