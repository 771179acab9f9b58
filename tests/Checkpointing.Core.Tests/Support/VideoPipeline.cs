using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Checkpointing.Tests.Support;

public sealed record Beat(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("duration")] double Duration,
    [property: JsonPropertyName("prompt")] string Prompt,
    [property: JsonPropertyName("shot_type")] string ShotType);

public sealed record Spec(
    [property: JsonPropertyName("template")] string Template,
    [property: JsonPropertyName("total_duration")] double TotalDuration,
    [property: JsonPropertyName("beats")] IReadOnlyList<Beat> Beats,
    [property: JsonPropertyName("style")] JsonObject? Style = null);

/// <summary>The seed's four phases, on the fake backend.</summary>
public static class VideoPipeline
{
    public const string Name = "video";

    public static Spec DefaultSpec(int beats = 4) => new(
        "product_showcase",
        beats * 2.5,
        Enumerable.Range(1, beats).Select(i => new Beat($"b{i}", 2.5, $"shot {i} of the product", i % 2 == 0 ? "close_up" : "wide")).ToList(),
        new JsonObject { ["mood"] = "calm", ["palette"] = "pastel" });

    public static JsonElement Input(int beats = 4) => JsonSerializer.SerializeToElement(new { prompt = "a lamp on a desk", beats });

    public static CheckpointingBuilder AddVideoPipeline(this CheckpointingBuilder builder) =>
        builder.AddPipeline(Name, p => p
            .AddPhase<PlanPhase>()
            .AddPhase<StoryboardPhase>()
            .AddPhase<ChunksPhase>()
            .AddPhase<AssemblePhase>());
}

public sealed class PlanPhase(FakeBackend backend) : Phase("plan")
{
    public override IReadOnlyList<ArtifactSpec> Artifacts { get; } =
        [new ArtifactSpec("spec") { AllowedEdits = EditKinds.PatchJson, IsPhaseOutput = true }];

    public override async Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken)
    {
        var beats = context.Run.Input.GetProperty("beats").GetInt32();
        var spec = JsonSerializer.Serialize(VideoPipeline.DefaultSpec(beats));
        var outcome = await context.GenerateAsync(backend, new GenerationRequest("llm-planner", new JsonObject { ["prompt"] = "plan", ["text"] = spec }), cancellationToken);
        var json = JsonDocument.Parse(outcome.Text).RootElement;
        return new PhaseResult([new PhaseArtifact("spec", "spec", ArtifactContent.FromJson(json), new ArtifactMetadata(Model: outcome.Model, ExternalJobId: outcome.JobId))], json);
    }

    public override IReadOnlyList<string> Validate(string artifactType, JsonElement content)
    {
        var errors = new List<string>();
        Spec? spec;
        try
        {
            spec = content.Deserialize<Spec>();
        }
        catch (JsonException e)
        {
            return [$"the spec does not match the schema: {e.Message}"];
        }

        if (spec?.Beats is not { Count: > 0 })
        {
            return ["the spec needs at least one beat"];
        }

        if (spec.Beats.Any(b => b.Duration <= 0))
        {
            errors.Add("every beat duration must be positive");
        }

        if (Math.Abs(spec.Beats.Sum(b => b.Duration) - spec.TotalDuration) > 0.001)
        {
            errors.Add($"beat durations add up to {spec.Beats.Sum(b => b.Duration)}, not total_duration {spec.TotalDuration}");
        }

        if (spec.Beats.Select(b => b.Id).Distinct().Count() != spec.Beats.Count)
        {
            errors.Add("beat ids must be unique");
        }

        return errors;
    }
}

public sealed class StoryboardPhase(FakeBackend backend) : UnitPhase("storyboard", new ArtifactSpec("beat_image")
{
    AllowedEdits = EditKinds.ReplaceContent | EditKinds.RegenerateUnit,
    AllowedMediaTypes = [MediaTypes.Png, MediaTypes.Jpeg, MediaTypes.WebP],
    MaxBytes = 64 * 1024,
})
{
    public override string GetUnitKey(int unitIndex) => $"beat_{unitIndex}";

    public override decimal EstimateUnitCost(UnitContext context) => backend.CostPerJob;

    public override async Task<int> CountUnitsAsync(PhaseContext context, CancellationToken cancellationToken) =>
        (await context.ReadJsonInputAsync<Spec>("spec", "spec", cancellationToken: cancellationToken)).Beats.Count;

    public override async Task<UnitResult> GenerateUnitAsync(UnitContext context, CancellationToken cancellationToken)
    {
        var spec = await context.ReadJsonInputAsync<Spec>("spec", "spec", cancellationToken: cancellationToken);
        var beat = spec.Beats[context.UnitIndex - 1];
        var prompt = context.Overrides.Prompt ?? $"{beat.Prompt}, {spec.Style?["mood"]}";
        var seed = context.Overrides.Seed ?? context.UnitIndex;
        var outcome = await context.GenerateAsync(backend, new GenerationRequest(context.Overrides.Model ?? "image-flux", new JsonObject { ["prompt"] = prompt, ["seed"] = seed }), cancellationToken);
        return new UnitResult(ArtifactContent.FromBlob(outcome.Files[0]), new ArtifactMetadata(prompt, outcome.Model, seed, outcome.JobId));
    }
}

public sealed class ChunksPhase(FakeBackend backend) : UnitPhase("chunks", new ArtifactSpec("chunk") { AllowedEdits = EditKinds.RegenerateUnit })
{
    public override string GetUnitKey(int unitIndex) => $"chunk_{unitIndex}";

    public override decimal EstimateUnitCost(UnitContext context) => backend.CostPerJob;

    public override async Task<int> CountUnitsAsync(PhaseContext context, CancellationToken cancellationToken) =>
        (await context.GetInputPinsAsync("beat_image", cancellationToken)).Count;

    public override async Task<UnitResult> GenerateUnitAsync(UnitContext context, CancellationToken cancellationToken)
    {
        var image = await context.GetInputAsync("beat_image", $"beat_{context.UnitIndex}", cancellationToken);
        var model = context.Overrides.Model ?? "video-hailuo";
        var outcome = await context.GenerateAsync(backend, new GenerationRequest(model, new JsonObject { ["prompt"] = $"chunk {context.UnitIndex}", ["image"] = image.Content.Blob!.Hash }), cancellationToken);
        return new UnitResult(ArtifactContent.FromBlob(outcome.Files[0]), new ArtifactMetadata(Model: model, ExternalJobId: outcome.JobId));
    }
}

public sealed class AssemblePhase : Phase
{
    public AssemblePhase() : base("assemble") { }

    public override IReadOnlyList<ArtifactSpec> Artifacts { get; } = [new ArtifactSpec("final")];

    public override async Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken)
    {
        using var final = new MemoryStream();
        final.Write(FakeBackend.Mp4("final"));
        foreach (var pin in await context.GetInputPinsAsync("chunk", cancellationToken))
        {
            var (stream, _) = await context.OpenInputAsync(pin.Type, pin.Key, cancellationToken);
            await using (stream)
            {
                await stream.CopyToAsync(final, cancellationToken);
            }
        }

        final.Position = 0;
        var blob = await context.PutBlobAsync(final, cancellationToken: cancellationToken);
        return new PhaseResult([new PhaseArtifact("final", "final", ArtifactContent.FromBlob(blob))], JsonSerializer.SerializeToElement(new { chunks = (await context.GetInputPinsAsync("chunk", cancellationToken)).Count }), Cost: 0.01m);
    }
}
