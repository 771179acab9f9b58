using Checkpointing.Generation;
using Checkpointing;

namespace VideoPipeline.Phases;

/// <summary>Which models the phases ask for (configuration section <c>VideoPipeline</c>). Model ids are the provider's.</summary>
public sealed class VideoPipelineOptions
{
    /// <summary>The pipeline's name in the SDK.</summary>
    public const string PipelineName = "video";

    /// <summary>The LLM that writes the spec.</summary>
    public string PlannerModel { get; set; } = "meta/meta-llama-3-8b-instruct";

    /// <summary>The image model of the storyboard.</summary>
    public string ImageModel { get; set; } = "black-forest-labs/flux-dev";

    /// <summary>The clip model used unless a regeneration names another.</summary>
    public string DefaultClipModel { get; set; } = "hailuo";

    /// <summary>Clip models by short name; <c>regenerate-chunk --model</c> takes a short name or an id listed here.</summary>
    public Dictionary<string, string> ClipModels { get; set; } = new(StringComparer.OrdinalIgnoreCase)
    {
        ["hailuo"] = "minimax/hailuo-02",
        ["kling"] = "kwaivgi/kling-v2.1",
        ["veo"] = "google/veo-3",
    };

    /// <summary>How many beats a unit phase generates at once. Default: 2.</summary>
    public int MaxConcurrency { get; set; } = 2;

    /// <summary>Resolves a short name or id to a clip model id.</summary>
    /// <exception cref="UnknownModelException">Neither a short name nor an id of <see cref="ClipModels"/>.</exception>
    public string ResolveClipModel(string? nameOrId)
    {
        var name = string.IsNullOrWhiteSpace(nameOrId) ? DefaultClipModel : nameOrId.Trim();
        if (ClipModels.TryGetValue(name, out var id))
        {
            return id;
        }

        if (ClipModels.Values.Contains(name, StringComparer.Ordinal))
        {
            return name;
        }

        throw new UnknownModelException(name, ClipModels.Keys);
    }
}

/// <summary>A clip model that is not configured.</summary>
public sealed class UnknownModelException(string name, IEnumerable<string> known)
    : CheckpointingException($"Unknown clip model '{name}'; choose one of {string.Join(", ", known)} (or add it under VideoPipeline:ClipModels).");

/// <summary>The generation backend the phases use, chosen by configuration (<c>Checkpointing:Backend</c>).</summary>
/// <param name="Backend">The backend.</param>
public sealed record PipelineBackend(IGenerationBackend Backend);

/// <summary>The phases of the video pipeline, in order.</summary>
public static class VideoPhases
{
    public const int Plan = 1;
    public const int Storyboard = 2;
    public const int Chunks = 3;
    public const int Assemble = 4;

    private static readonly string[] Names = ["plan", "storyboard", "chunks", "assemble"];

    public static int Terminal => Names.Length;

    public static string Name(int phase) => phase >= 1 && phase <= Names.Length ? Names[phase - 1] : $"phase {phase}";
}
