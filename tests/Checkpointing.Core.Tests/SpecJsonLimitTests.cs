using System.Text.Json;
using Checkpointing.Tests.Support;

namespace Checkpointing.Tests;

/// <summary>
/// An artifact spec's own JSON limit (<see cref="ArtifactSpec.MaxJsonBytes"/>) holds for what a phase stores, for a
/// merge patch and its result, and for a regenerated unit, though the content is far under the global limit; the
/// error names the limit, and the store is left as it was.
/// </summary>
public sealed class SpecJsonLimitTests : IAsyncLifetime
{
    private const long Limit = 100;
    private const string PipelineName = "spec-limits";
    private TestHost _host = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        _host = new TestHost(b => b.AddPipeline(PipelineName, p => p.AddPhase(new NotesPhase()).AddPhase(new ItemsPhase())));
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task A_phase_artifact_over_its_specs_limit_fails_the_phase_and_commits_nothing_while_an_unlimited_artifact_of_the_same_size_passes()
    {
        var ok = await StartAsync(note: "short", log: new string('l', 2 * (int)Limit));
        Assert.Equal(RunStatus.Paused, ok.Status);

        var refused = await StartAsync(note: new string('n', 2 * (int)Limit), log: "short");

        Assert.Equal(RunStatus.Failed, refused.Status);
        Assert.Contains($"the limit is {Limit} bytes", refused.Run.Error, StringComparison.Ordinal);
        Assert.Contains("note/note", refused.Run.Error, StringComparison.Ordinal);
        Assert.Empty(await _host.Store.ListCheckpointsAsync(refused.Run.Id, cancellationToken: Ct));
    }

    [Fact]
    public async Task A_unit_over_its_specs_limit_fails_the_next_phase_and_leaves_every_checkpoint_artifact_and_blob_as_it_was()
    {
        var started = await StartAsync(note: "short", log: "short", item: new string('i', 2 * (int)Limit));
        var before = WithoutRunOrApproval(await StoreSnapshot.CaptureAsync(_host.Store, started.Run.Id, _host.Blobs));

        var continued = await _host.Runner.ContinueAsync(started.Checkpoint!.Id, cancellationToken: Ct);

        var run = await _host.Store.GetRunAsync(started.Run.Id, Ct);
        Assert.Equal(RunStatus.Failed, run!.Status);
        Assert.Contains($"the limit is {Limit} bytes", run.Error, StringComparison.Ordinal);
        Assert.Contains("item/item_", run.Error, StringComparison.Ordinal);
        Assert.Null(continued.Checkpoint);
        Assert.Equal(before, WithoutRunOrApproval(await StoreSnapshot.CaptureAsync(_host.Store, started.Run.Id, _host.Blobs)));
    }

    [Fact]
    public async Task A_merge_patch_over_the_specs_limit_is_refused_before_it_is_applied()
    {
        var started = await StartAsync(note: "short", log: "short");
        var patch = JsonSerializer.Serialize(new { text = new string('p', (int)Limit) });

        var error = await AssertRefusedUnchangedAsync(started.Run.Id, () => _host.Editor.PatchJsonAsync(started.Checkpoint!.Id, "note", "note", patch, cancellationToken: Ct));

        Assert.Equal(Limit, error.Limit);
        Assert.Contains("merge patch", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_small_merge_patch_whose_result_is_over_the_specs_limit_is_refused()
    {
        var started = await StartAsync(note: new string('n', 50), log: "short");
        var patch = JsonSerializer.Serialize(new { more = new string('m', 60) });
        Assert.True(patch.Length < Limit);

        var error = await AssertRefusedUnchangedAsync(started.Run.Id, () => _host.Editor.PatchJsonAsync(started.Checkpoint!.Id, "note", "note", patch, cancellationToken: Ct));

        Assert.Equal(Limit, error.Limit);
        Assert.Contains("patched 'note/note'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_regenerated_unit_over_its_specs_limit_is_refused()
    {
        var started = await StartAsync(note: "short", log: "short");
        var items = await _host.Runner.ContinueAsync(started.Checkpoint!.Id, cancellationToken: Ct);
        Assert.NotNull(items.Checkpoint);

        var error = await AssertRefusedUnchangedAsync(started.Run.Id, () => _host.Editor.RegenerateUnitAsync(items.Checkpoint!.Id, 1, new UnitOverrides(Prompt: new string('r', 2 * (int)Limit)), cancellationToken: Ct));

        Assert.Equal(Limit, error.Limit);
        Assert.Contains("item/item_1", error.Message, StringComparison.Ordinal);
    }

    private Task<RunResult> StartAsync(string note, string log, string item = "an item") =>
        _host.Runner.StartAsync(new StartRunRequest(PipelineName, "user-1", JsonSerializer.SerializeToElement(new { note, log, item })), Ct);

    private async Task<InputTooLargeException> AssertRefusedUnchangedAsync(Guid runId, Func<Task> edit)
    {
        var before = await StoreSnapshot.CaptureAsync(_host.Store, runId, _host.Blobs);

        var error = await Assert.ThrowsAsync<InputTooLargeException>(edit);

        Assert.Contains($"the limit is {Limit} bytes", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await StoreSnapshot.CaptureAsync(_host.Store, runId, _host.Blobs));
        return error;
    }

    /// <summary>
    /// The snapshot without what continuing changes before the next phase runs: the run row (its status and error) and
    /// the approval of the continued checkpoint. Checkpoints, artifacts, their histories, branches and blobs remain.
    /// </summary>
    private static string WithoutRunOrApproval(string snapshot)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(snapshot)!.AsObject();
        node.Remove("run");
        foreach (var detail in node["details"]!.AsArray())
        {
            var checkpoint = detail!["checkpoint"]!.AsObject();
            checkpoint.Remove("Status");
            checkpoint.Remove("ApprovedAt");
        }

        return node.ToJsonString();
    }

    /// <summary>Stores the run input's note under a spec with a small limit, and its log under one without.</summary>
    private sealed class NotesPhase() : Phase("notes")
    {
        public override IReadOnlyList<ArtifactSpec> Artifacts { get; } =
        [
            new ArtifactSpec("note") { MaxJsonBytes = Limit, AllowedEdits = EditKinds.PatchJson },
            new ArtifactSpec("log"),
        ];

        public override Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken)
        {
            var input = context.Run.Input;
            return Task.FromResult(new PhaseResult(
            [
                new PhaseArtifact("note", "note", ArtifactContent.FromJson(JsonSerializer.SerializeToElement(new { text = input.GetProperty("note").GetString() }))),
                new PhaseArtifact("log", "log", ArtifactContent.FromJson(JsonSerializer.SerializeToElement(new { text = input.GetProperty("log").GetString() }))),
            ]));
        }
    }

    /// <summary>Two JSON units: the run input's item, or the prompt override when one is regenerated.</summary>
    private sealed class ItemsPhase() : UnitPhase("items", new ArtifactSpec("item") { MaxJsonBytes = Limit, AllowedEdits = EditKinds.RegenerateUnit })
    {
        public override Task<int> CountUnitsAsync(PhaseContext context, CancellationToken cancellationToken) => Task.FromResult(2);

        public override Task<UnitResult> GenerateUnitAsync(UnitContext context, CancellationToken cancellationToken)
        {
            var text = context.Overrides.Prompt ?? context.Run.Input.GetProperty("item").GetString();
            return Task.FromResult(new UnitResult(ArtifactContent.FromJson(JsonSerializer.SerializeToElement(new { text }))));
        }
    }
}
