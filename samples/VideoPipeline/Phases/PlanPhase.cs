using Checkpointing.Generation;
using System.Text.Json;
using System.Text.Json.Nodes;
using Checkpointing;
using Microsoft.Extensions.Options;

namespace VideoPipeline.Phases;

/// <summary>Phase 1: an LLM writes the spec (<c>spec</c>/<c>spec</c>, inline JSON). The spec may be patched, then validated.</summary>
public sealed class PlanPhase(PipelineBackend backend, IOptions<VideoPipelineOptions> options) : Phase("plan")
{
    public const string ArtifactType = "spec";

    private const string SystemPrompt =
        "You plan short product videos. Answer with one JSON object only: {\"template\": string, \"total_duration\": seconds, " +
        "\"beats\": [{\"id\": string, \"duration\": seconds, \"prompt\": string, \"shot_type\": string}], " +
        "\"style\": {\"mood\": string, \"palette\": [\"#rrggbb\"], \"lighting\": string}, \"product\": {\"name\": string, \"category\": string}, " +
        "\"audio\": {\"music_style\": string}}. Beat durations must add up to total_duration; beat ids must be unique.";

    public override IReadOnlyList<ArtifactSpec> Artifacts { get; } =
    [
        new ArtifactSpec(ArtifactType) { AllowedEdits = EditKinds.PatchJson, IsPhaseOutput = true },
    ];

    public override async Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken)
    {
        var input = RunInput.From(context.Run.Input);
        var request = new GenerationRequest(options.Value.PlannerModel, new JsonObject
        {
            ["prompt"] = input.Prompt,
            ["system_prompt"] = SystemPrompt,
            ["duration"] = input.Duration,
            ["beats"] = input.Beats,
            ["max_tokens"] = 2048,
        });
        var outcome = await context.GenerateAsync(backend.Backend, request, cancellationToken);
        var spec = ParseSpec(outcome.Text);
        var errors = SpecValidator.Validate(spec);
        if (errors.Count > 0)
        {
            throw new ArtifactValidationException(ArtifactType, errors);
        }

        var metadata = new ArtifactMetadata(Prompt: input.Prompt, Model: outcome.Model, ExternalJobId: outcome.JobId, Cost: outcome.Cost);
        return new PhaseResult([new PhaseArtifact(ArtifactType, ArtifactType, ArtifactContent.FromJson(spec), metadata)], spec);
    }

    public override IReadOnlyList<string> Validate(string artifactType, JsonElement content) =>
        artifactType == ArtifactType ? SpecValidator.Validate(content) : [];

    /// <summary>Takes the JSON object out of the model's answer (models sometimes wrap it in prose or code fences).</summary>
    private static JsonElement ParseSpec(string text)
    {
        var start = text.IndexOf('{', StringComparison.Ordinal);
        var end = text.LastIndexOf('}');
        if (start < 0 || end < start)
        {
            throw new InvalidJsonException($"The planner answered without a JSON object: \"{text[..Math.Min(80, text.Length)]}\".");
        }

        try
        {
            using var document = JsonDocument.Parse(text.AsMemory(start, end - start + 1));
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new InvalidJsonException($"The planner's answer is not valid JSON: {e.Message}", e);
        }
    }
}

/// <summary>The run's input: the idea, the video's length and how many beats to plan.</summary>
public sealed record RunInput(string Prompt, double Duration, int Beats)
{
    public static RunInput From(JsonElement input) => new(
        input.TryGetProperty("prompt", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : "",
        input.TryGetProperty("duration", out var d) && d.ValueKind == JsonValueKind.Number ? d.GetDouble() : 10,
        input.TryGetProperty("beats", out var b) && b.ValueKind == JsonValueKind.Number ? b.GetInt32() : 4);

    public JsonElement ToJson() => JsonSerializer.SerializeToElement(new { prompt = Prompt, duration = Duration, beats = Beats });
}
