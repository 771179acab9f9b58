using System.Text.Json;
using Checkpointing.Tests.Support;

namespace Checkpointing.Tests;

/// <summary>The API as a caller writes against it: edits addressed alike, inputs read by their pin, history reasons, result shortcuts.</summary>
public sealed class ApiShapeTests : IAsyncLifetime
{
    private readonly TestHost _host = new();
    private Checkpoint _plan = null!;
    private Checkpoint _storyboard = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _plan = (await _host.StartAsync()).Checkpoint!;
        _storyboard = (await _host.Runner.ContinueAsync(_plan.Id, cancellationToken: Ct)).Checkpoint!;
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task The_history_reason_keeps_the_edit_kind_when_a_description_is_given()
    {
        await _host.Editor.PatchJsonAsync(_plan.Id, "spec", "spec", """{"template":"v2"}""", new EditOptions(Description: "shorter beat 2"), Ct);
        await _host.Editor.PatchJsonAsync(_plan.Id, "spec", "spec", """{"template":"v3"}""", cancellationToken: Ct);

        var history = await _host.Queries.GetArtifactHistoryAsync(_plan.Id, "spec", "spec", Ct);

        Assert.Equal([null, "PatchJson: shorter beat 2", "PatchJson"], history.Select(v => v.Reason));
    }

    [Fact]
    public async Task A_unit_is_regenerated_by_its_type_and_key_like_any_other_edit()
    {
        var submits = _host.Backend.SubmitCount();

        var edit = await _host.Editor.RegenerateUnitAsync(_storyboard.Id, "beat_image", "beat_3", new UnitOverrides(Prompt: "closer"), new EditOptions(Description: "closer"), Ct);

        Assert.Equal(("beat_3", 3, 2), (edit.Artifact.Key, edit.Artifact.UnitIndex, edit.Artifact.Version));
        Assert.Equal("closer", edit.Artifact.Metadata.Prompt);
        Assert.Equal("RegenerateUnit: closer", edit.Artifact.Reason);
        Assert.Equal(submits + 1, _host.Backend.SubmitCount());
        await Assert.ThrowsAsync<ArtifactNotFoundException>(() => _host.Editor.RegenerateUnitAsync(_storyboard.Id, "beat_image", "beat_9", cancellationToken: Ct));
        await Assert.ThrowsAsync<EditNotAllowedException>(() => _host.Editor.RegenerateUnitAsync(_plan.Id, "spec", "spec", cancellationToken: Ct));
    }

    [Fact]
    public async Task A_continue_result_has_the_runs_status_as_a_shortcut()
    {
        await _host.Editor.PatchJsonAsync(_plan.Id, "spec", "spec", """{"template":"alt"}""", cancellationToken: Ct);

        var result = await _host.Runner.ContinueAsync(_plan.Id, cancellationToken: Ct);

        Assert.Equal(RunStatus.Paused, result.Status);
        Assert.Equal(result.Run.Status, result.Status);
    }

    [Fact]
    public async Task A_phase_reads_a_consumed_input_by_its_pin()
    {
        var probe = new PinReadingPhase();
        await using var host = new TestHost(b => b.AddPipeline("pins", p => p.AddPhase<PlanPhase>().AddPhase<StoryboardPhase>().AddPhase(probe)));
        var result = await host.Runner.StartAsync(new StartRunRequest("pins", "owner", VideoPipeline.Input(2)) { AutoContinue = true }, Ct);

        Assert.Equal(RunStatus.Completed, result.Status);
        Assert.Equal(2, probe.Beats);
        Assert.Equal(2, probe.ImagesOpened);
        Assert.True(probe.ForeignPinRefused);
    }

    private sealed class PinReadingPhase() : Phase("pins")
    {
        public int Beats { get; private set; }
        public int ImagesOpened { get; private set; }
        public bool ForeignPinRefused { get; private set; }

        public override IReadOnlyList<ArtifactSpec> Artifacts { get; } = [new ArtifactSpec("summary")];

        public override async Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken)
        {
            var specPin = (await context.GetInputPinsAsync("spec", cancellationToken)).Single();
            Beats = (await context.ReadJsonAsync<Spec>(specPin, cancellationToken: cancellationToken)).Beats.Count;
            foreach (var pin in await context.GetInputPinsAsync("beat_image", cancellationToken))
            {
                var (stream, blob) = await context.OpenAsync(pin, cancellationToken);
                await using (stream)
                {
                    Assert.Equal(MediaTypes.Png, blob.MediaType);
                    ImagesOpened++;
                }

                Assert.Equal(pin.Version, (await context.ReadAsync(pin, cancellationToken)).Version);
            }

            try
            {
                await context.ReadAsync(specPin with { Version = 99 }, cancellationToken);
            }
            catch (ArtifactNotFoundException)
            {
                ForeignPinRefused = true;
            }

            var summary = JsonSerializer.SerializeToElement(new { beats = Beats });
            return new PhaseResult([new PhaseArtifact("summary", "summary", ArtifactContent.FromJson(summary))], summary);
        }
    }
}
