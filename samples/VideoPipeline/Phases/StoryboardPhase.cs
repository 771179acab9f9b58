using Checkpointing.Generation;
using Checkpointing.Storage;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Checkpointing;
using Microsoft.Extensions.Options;

namespace VideoPipeline.Phases;

/// <summary>
/// Phase 2: one image per beat (<c>beat_image</c>/<c>beat_{i}</c>). An image may be replaced by an upload (PNG, JPEG
/// or WebP, checked from its bytes) or regenerated with another prompt or seed.
/// </summary>
public sealed class StoryboardPhase(PipelineBackend backend, IOptions<VideoPipelineOptions> options)
    : UnitPhase("storyboard", new ArtifactSpec(ArtifactType)
    {
        AllowedEdits = EditKinds.ReplaceContent | EditKinds.RegenerateUnit,
        AllowedMediaTypes = [MediaTypes.Png, MediaTypes.Jpeg, MediaTypes.WebP],
        MaxBytes = 10 * 1024 * 1024,
    })
{
    public const string ArtifactType = "beat_image";

    public override int MaxConcurrency => options.Value.MaxConcurrency;

    public override string GetUnitKey(int unitIndex) => $"beat_{unitIndex}";

    public override async Task<int> CountUnitsAsync(PhaseContext context, CancellationToken cancellationToken) =>
        (await ReadSpecAsync(context, cancellationToken)).Beats.Count;

    public override async Task<UnitResult> GenerateUnitAsync(UnitContext context, CancellationToken cancellationToken)
    {
        var spec = await ReadSpecAsync(context, cancellationToken);
        var beat = spec.Beats[context.UnitIndex - 1];
        // A prompt override replaces the beat's own words; the spec's shot type, mood and palette still apply.
        var prompt = DescribeShot(context.Overrides.Prompt is { } replaced ? beat with { Prompt = replaced } : beat, spec);
        var seed = context.Overrides.Seed ?? StableSeed(beat.Id);
        var model = context.Overrides.Model ?? options.Value.ImageModel;
        var outcome = await context.GenerateAsync(backend.Backend, new GenerationRequest(model, new JsonObject
        {
            ["prompt"] = prompt,
            ["seed"] = seed,
            ["aspect_ratio"] = "16:9",
            ["output_format"] = "png",
        }), cancellationToken);
        if (outcome.Files.Count == 0)
        {
            throw new GenerationException($"Model '{model}' returned no image for beat {context.UnitIndex}.", outcome.JobId);
        }

        return new UnitResult(ArtifactContent.FromBlob(outcome.Files[0]), new ArtifactMetadata(prompt, model, seed, outcome.JobId));
    }

    public override JsonElement? SummarizeOutput(IReadOnlyList<CompletedUnit> units) => JsonSerializer.SerializeToElement(new
    {
        images = units.Count,
        keys = units.Select(u => u.Artifact.Key).ToArray(),
        cost = units.Sum(u => u.Cost),
    });

    internal static Task<VideoSpec> ReadSpecAsync(PhaseContext context, CancellationToken ct) =>
        context.ReadJsonInputAsync<VideoSpec>(PlanPhase.ArtifactType, PlanPhase.ArtifactType, cancellationToken: ct);

    /// <summary>The image prompt of a beat: its own prompt plus the shot type, mood, lighting and palette of the spec.</summary>
    internal static string DescribeShot(Beat beat, VideoSpec spec)
    {
        var text = new StringBuilder(beat.Prompt)
            .Append(", ").Append(beat.ShotType.Replace('_', '-')).Append(" shot")
            .Append(", ").Append(spec.Style.Mood).Append(" mood");
        if (!string.IsNullOrWhiteSpace(spec.Style.Lighting))
        {
            text.Append(", ").Append(spec.Style.Lighting);
        }

        if (spec.Style.Palette is { Count: > 0 } palette)
        {
            text.Append(", palette ").AppendJoin(' ', palette);
        }

        return text.ToString();
    }

    /// <summary>A seed that depends only on the beat id (FNV-1a), so re-running a phase paints the same image.</summary>
    internal static long StableSeed(string beatId)
    {
        var hash = 2166136261u;
        foreach (var c in beatId)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return long.Parse((hash % 1_000_000).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }
}
