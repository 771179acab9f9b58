using Checkpointing.Generation;
using Checkpointing.Storage;
using System.Text.Json;
using System.Text.Json.Nodes;
using Checkpointing;
using Microsoft.Extensions.Options;

namespace VideoPipeline.Phases;

/// <summary>
/// Phase 3: one clip per beat (<c>chunk</c>/<c>chunk_{i}</c>), animated from the beat's image, which is the clip's
/// first frame. A clip may be regenerated with another model (e.g. hailuo, kling, veo).
/// </summary>
public sealed class ChunksPhase(PipelineBackend backend, IOptions<VideoPipelineOptions> options)
    : UnitPhase("chunks", new ArtifactSpec(ArtifactType) { AllowedEdits = EditKinds.RegenerateUnit })
{
    public const string ArtifactType = "chunk";

    public override int MaxConcurrency => options.Value.MaxConcurrency;

    public override string GetUnitKey(int unitIndex) => $"chunk_{unitIndex}";

    public override async Task<int> CountUnitsAsync(PhaseContext context, CancellationToken cancellationToken)
    {
        var spec = await StoryboardPhase.ReadSpecAsync(context, cancellationToken);
        var images = (await context.GetInputPinsAsync(StoryboardPhase.ArtifactType, cancellationToken)).Count;
        return images == spec.Beats.Count
            ? images
            : throw new InvalidStateException($"The storyboard has {images} images but the spec has {spec.Beats.Count} beats; regenerate the storyboard from the spec.");
    }

    public override async Task<UnitResult> GenerateUnitAsync(UnitContext context, CancellationToken cancellationToken)
    {
        var spec = await StoryboardPhase.ReadSpecAsync(context, cancellationToken);
        var beat = spec.Beats[context.UnitIndex - 1];
        var image = await context.GetInputAsync(StoryboardPhase.ArtifactType, $"beat_{context.UnitIndex}", cancellationToken);
        var blob = image.Content.Blob ?? throw new InvalidStateException($"beat_{context.UnitIndex} holds no image.");
        var model = options.Value.ResolveClipModel(context.Overrides.Model);
        var prompt = context.Overrides.Prompt ?? $"{beat.Prompt}, {beat.ShotType.Replace('_', '-')} shot, smooth camera move";
        var seed = context.Overrides.Seed ?? StoryboardPhase.StableSeed(beat.Id);
        // The beat image goes as a file input: each backend sends it its own way (the studio reads the blob store,
        // Replicate gets a data: URI or an upload under the input name its model expects).
        var request = new GenerationRequest(model, new JsonObject
        {
            ["prompt"] = prompt,
            ["duration"] = beat.Duration,
            ["seed"] = seed,
        })
        {
            Blobs = new Dictionary<string, GenerationBlobInput>(StringComparer.Ordinal) { [GenerationBlobInput.FirstFrame] = new(blob, context.Blobs) },
        };
        var outcome = await context.GenerateAsync(backend.Backend, request, cancellationToken);
        if (outcome.Files.Count == 0)
        {
            throw new GenerationException($"Model '{model}' returned no clip for beat {context.UnitIndex}.", outcome.JobId);
        }

        var extra = JsonSerializer.SerializeToElement(new { duration = beat.Duration, first_frame = blob.Hash });
        return new UnitResult(ArtifactContent.FromBlob(outcome.Files[0]), new ArtifactMetadata(prompt, model, seed, outcome.JobId, Extra: extra));
    }

    public override JsonElement? SummarizeOutput(IReadOnlyList<CompletedUnit> units) => JsonSerializer.SerializeToElement(new
    {
        clips = units.Count,
        keys = units.Select(u => u.Artifact.Key).ToArray(),
        models = units.Select(u => u.Artifact.Metadata.Model).Distinct().ToArray(),
        cost = units.Sum(u => u.Cost),
    });
}
