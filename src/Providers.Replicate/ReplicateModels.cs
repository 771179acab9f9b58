using System.Text.Json.Nodes;

namespace Checkpointing.Providers.Replicate;

/// <summary>
/// The models a video pipeline uses, and input builders that make a <see cref="GenerationRequest"/> in one line. Every
/// builder takes a <c>model</c> override (e.g. a unit's <see cref="UnitOverrides.Model"/>); the aliases
/// <see cref="DefaultText"/>, <see cref="DefaultImage"/> and <see cref="DefaultVideo"/> resolve to the models set in
/// <see cref="ReplicateOptions"/>.
/// </summary>
public static class ReplicateModels
{
    /// <summary>The alias of <see cref="ReplicateOptions.DefaultTextModel"/>: <c>text</c>.</summary>
    public const string DefaultText = "text";

    /// <summary>The alias of <see cref="ReplicateOptions.DefaultImageModel"/>: <c>image</c>.</summary>
    public const string DefaultImage = "image";

    /// <summary>The alias of <see cref="ReplicateOptions.DefaultVideoModel"/>: <c>video</c>.</summary>
    public const string DefaultVideo = "video";

    /// <summary><c>meta/meta-llama-3-70b-instruct</c>: an LLM; output is a token array joined into one text.</summary>
    public const string Llama3_70BInstruct = "meta/meta-llama-3-70b-instruct";

    /// <summary><c>black-forest-labs/flux-schnell</c>: fast images, an array of URLs.</summary>
    public const string FluxSchnell = "black-forest-labs/flux-schnell";

    /// <summary><c>black-forest-labs/flux-dev</c>: images, an array of URLs.</summary>
    public const string FluxDev = "black-forest-labs/flux-dev";

    /// <summary><c>black-forest-labs/flux-1.1-pro</c>: one image URL.</summary>
    public const string Flux11Pro = "black-forest-labs/flux-1.1-pro";

    /// <summary><c>kwaivgi/kling-v2.1</c>: image-to-video (a start image is required), 5 or 10 s.</summary>
    public const string KlingV21 = "kwaivgi/kling-v2.1";

    /// <summary><c>minimax/hailuo-02</c>: text- or image-to-video, 6 or 10 s.</summary>
    public const string Hailuo02 = "minimax/hailuo-02";

    /// <summary><c>minimax/video-01</c>: text- or image-to-video.</summary>
    public const string MinimaxVideo01 = "minimax/video-01";

    /// <summary><c>google/veo-3</c>: text- or image-to-video with audio, 8 s.</summary>
    public const string Veo3 = "google/veo-3";

    /// <summary><c>google/veo-3-fast</c>: a faster Veo 3.</summary>
    public const string Veo3Fast = "google/veo-3-fast";

    /// <summary>Builds an LLM request (e.g. the plan phase).</summary>
    /// <param name="prompt">The prompt.</param>
    /// <param name="systemPrompt">The system prompt, if any.</param>
    /// <param name="maxTokens">The most tokens to generate, if limited.</param>
    /// <param name="temperature">The sampling temperature, if set.</param>
    /// <param name="model">The model; default: <see cref="DefaultText"/>.</param>
    /// <returns>The request.</returns>
    public static GenerationRequest Text(string prompt, string? systemPrompt = null, int? maxTokens = null, double? temperature = null, string? model = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(prompt);
        var input = new JsonObject { ["prompt"] = prompt };
        Set(input, "system_prompt", systemPrompt);
        Set(input, "max_tokens", maxTokens);
        Set(input, "temperature", temperature);
        return new GenerationRequest(model ?? DefaultText, input);
    }

    /// <summary>Builds an image request (FLUX; e.g. a storyboard frame).</summary>
    /// <param name="prompt">The prompt.</param>
    /// <param name="aspectRatio">The aspect ratio, e.g. <c>16:9</c>.</param>
    /// <param name="seed">The seed, for reproducible results.</param>
    /// <param name="numOutputs">How many images (FLUX schnell and dev: 1–4).</param>
    /// <param name="outputFormat">The file format: <c>webp</c>, <c>jpg</c> or <c>png</c>.</param>
    /// <param name="model">The model; default: <see cref="DefaultImage"/>.</param>
    /// <returns>The request.</returns>
    public static GenerationRequest Image(string prompt, string? aspectRatio = null, long? seed = null, int? numOutputs = null, string? outputFormat = null, string? model = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(prompt);
        var input = new JsonObject { ["prompt"] = prompt };
        Set(input, "aspect_ratio", aspectRatio);
        Set(input, "seed", seed);
        Set(input, "num_outputs", numOutputs);
        Set(input, "output_format", outputFormat);
        return new GenerationRequest(model ?? DefaultImage, input);
    }

    /// <summary>
    /// Builds a video request (e.g. a chunk whose first frame is a storyboard image). The first frame goes in the input the
    /// model expects: <c>start_image</c> for Kling, <c>first_frame_image</c> for MiniMax / Hailuo, <c>image</c> for Veo and
    /// others. Inputs a model family does not take (a seed for Kling and MiniMax, an aspect ratio for MiniMax) are left out.
    /// </summary>
    /// <param name="prompt">The prompt.</param>
    /// <param name="firstFrameImage">The first frame as an https URL or <c>data:</c> URI (see <see cref="ReplicateBackend.PrepareFileInputAsync"/>); required by Kling.</param>
    /// <param name="durationSeconds">The clip length in seconds, if the model takes one.</param>
    /// <param name="aspectRatio">The aspect ratio, e.g. <c>16:9</c>.</param>
    /// <param name="seed">The seed, if the model takes one.</param>
    /// <param name="model">The model, e.g. <see cref="KlingV21"/>; default: <see cref="DefaultVideo"/>.</param>
    /// <param name="deadline">How long the job may run before Replicate abandons it (<c>Cancel-After</c>).</param>
    /// <returns>The request.</returns>
    public static GenerationRequest Video(string prompt, string? firstFrameImage = null, int? durationSeconds = null, string? aspectRatio = null, long? seed = null, string? model = null, TimeSpan? deadline = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(prompt);
        var name = model ?? DefaultVideo;
        var family = name.ToLowerInvariant();
        var input = new JsonObject { ["prompt"] = prompt };
        if (family.StartsWith("kwaivgi/kling", StringComparison.Ordinal))
        {
            if (string.IsNullOrWhiteSpace(firstFrameImage))
            {
                throw new ArgumentException($"Model '{name}' needs a start image: pass firstFrameImage.", nameof(firstFrameImage));
            }

            Set(input, "start_image", firstFrameImage);
            Set(input, "aspect_ratio", aspectRatio);
        }
        else if (family.StartsWith("minimax/", StringComparison.Ordinal) || family == DefaultVideo)
        {
            Set(input, "first_frame_image", firstFrameImage);
            seed = null;
        }
        else
        {
            Set(input, "image", firstFrameImage);
            Set(input, "aspect_ratio", aspectRatio);
        }

        Set(input, "duration", durationSeconds);
        if (!family.StartsWith("kwaivgi/kling", StringComparison.Ordinal))
        {
            Set(input, "seed", seed);
        }

        return new GenerationRequest(name, input) { Deadline = deadline };
    }

    /// <summary>
    /// Moves a first-frame image to the input key the resolved video model expects and drops inputs its family does
    /// not take; used when a request named the <see cref="DefaultVideo"/> alias.
    /// </summary>
    internal static JsonObject AdaptVideoInput(string model, JsonObject input)
    {
        var family = model.ToLowerInvariant();
        var adapted = (JsonObject)input.DeepClone();
        string[] keys = ["first_frame_image", "start_image", "image"];
        JsonNode? frame = null;
        foreach (var key in keys)
        {
            if (adapted.Remove(key, out var value) && value is not null)
            {
                frame ??= value;
            }
        }

        var target = family.StartsWith("kwaivgi/kling", StringComparison.Ordinal) ? "start_image"
            : family.StartsWith("minimax/", StringComparison.Ordinal) ? "first_frame_image"
            : "image";
        if (frame is not null)
        {
            adapted[target] = frame;
        }

        if (target != "image")
        {
            adapted.Remove("seed");
        }

        if (target == "first_frame_image")
        {
            adapted.Remove("aspect_ratio");
        }

        return adapted;
    }

    private static void Set<T>(JsonObject input, string name, T? value)
    {
        if (value is not null)
        {
            input[name] = JsonValue.Create(value);
        }
    }
}
