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
    /// What the pipeline needs to know about Replicate's video models, most specific first: the input that takes the
    /// first frame, the clip lengths the model makes, and which optional inputs it takes. A model id matches an entry
    /// when it equals the entry's <see cref="ReplicateVideoModel.Model"/> or starts with it followed by <c>-</c> or
    /// <c>:</c> (a version); a family entry (e.g. <c>kwaivgi/kling</c>) covers the family's other models. Check the
    /// facts against the model's page when adding one.
    /// </summary>
    public static IReadOnlyList<ReplicateVideoModel> VideoModels { get; } =
    [
        new(KlingV21, "start_image", [5, 10], RequiresFirstFrame: true, TakesSeed: false, TakesAspectRatio: true),
        new("kwaivgi/kling", "start_image", [5, 10], RequiresFirstFrame: true, TakesSeed: false, TakesAspectRatio: true),
        new(Hailuo02, "first_frame_image", [6, 10], RequiresFirstFrame: false, TakesSeed: false, TakesAspectRatio: false),
        new(MinimaxVideo01, "first_frame_image", [6], RequiresFirstFrame: false, TakesSeed: false, TakesAspectRatio: false),
        new("minimax", "first_frame_image", [6], RequiresFirstFrame: false, TakesSeed: false, TakesAspectRatio: false),
        new(Veo3Fast, "image", [8], RequiresFirstFrame: false, TakesSeed: true, TakesAspectRatio: true),
        new(Veo3, "image", [8], RequiresFirstFrame: false, TakesSeed: true, TakesAspectRatio: true),
        new("google/veo", "image", [5, 6, 7, 8], RequiresFirstFrame: false, TakesSeed: true, TakesAspectRatio: true),
    ];

    /// <summary>The catalogue entry of a video model (<c>owner/name</c> or <c>owner/name:version</c>), or null when it is not one.</summary>
    /// <param name="model">The model id.</param>
    /// <returns>The most specific entry that matches, or null.</returns>
    public static ReplicateVideoModel? FindVideoModel(string model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var name = model.Split(':', 2)[0].Trim();
        foreach (var entry in VideoModels)
        {
            if (name.Equals(entry.Model, StringComparison.OrdinalIgnoreCase)
                || (name.Length > entry.Model.Length && name.StartsWith(entry.Model, StringComparison.OrdinalIgnoreCase) && name[entry.Model.Length] is '-' or '/' or '.'))
            {
                return entry;
            }
        }

        return null;
    }

    /// <summary>
    /// A clip length <paramref name="model"/> makes for a clip of <paramref name="seconds"/>: rounded up to the next
    /// length it offers (or its longest). Models outside <see cref="VideoModels"/> get the seconds rounded up.
    /// </summary>
    /// <param name="model">The model id.</param>
    /// <param name="seconds">The wanted length (positive).</param>
    /// <returns>Whole seconds.</returns>
    public static int ClipLength(string model, double seconds)
    {
        if (!double.IsFinite(seconds) || seconds <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(seconds), seconds, "A clip length must be a positive number of seconds.");
        }

        var wanted = (int)Math.Min(int.MaxValue, Math.Max(1, Math.Ceiling(seconds - 1e-9)));
        return FindVideoModel(model) is { } entry ? entry.ClipLength(wanted) : wanted;
    }

    /// <summary>
    /// Builds a video request (e.g. a chunk whose first frame is a storyboard image). The first frame goes in the input the
    /// model expects (<see cref="ReplicateVideoModel.FirstFrameInput"/>: <c>start_image</c> for Kling,
    /// <c>first_frame_image</c> for MiniMax / Hailuo, <c>image</c> for Veo and models outside the catalogue). Inputs a
    /// model does not take (a seed for Kling and MiniMax, an aspect ratio for MiniMax) are left out.
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
        var entry = FacetsOf(name);
        if (entry.RequiresFirstFrame && string.IsNullOrWhiteSpace(firstFrameImage))
        {
            throw new ArgumentException($"Model '{name}' needs a start image: pass firstFrameImage.", nameof(firstFrameImage));
        }

        var input = new JsonObject { ["prompt"] = prompt };
        Set(input, entry.FirstFrameInput, firstFrameImage);
        Set(input, "aspect_ratio", entry.TakesAspectRatio ? aspectRatio : null);
        Set(input, "duration", durationSeconds);
        Set(input, "seed", entry.TakesSeed ? seed : null);
        return new GenerationRequest(name, input) { Deadline = deadline };
    }

    /// <summary>
    /// Builds an image-to-video request whose first frame is a file input (e.g. a storyboard blob):
    /// <see cref="ReplicateBackend"/> sends it as a <c>data:</c> URI or an upload, under the input the model expects.
    /// Otherwise as <see cref="Video"/>.
    /// </summary>
    /// <param name="prompt">The prompt.</param>
    /// <param name="firstFrame">The first frame, e.g. <c>new GenerationBlobInput(blob, context.Blobs)</c>.</param>
    /// <param name="durationSeconds">The clip length in seconds, if the model takes one (see <see cref="ClipLength"/>).</param>
    /// <param name="aspectRatio">The aspect ratio, e.g. <c>16:9</c>.</param>
    /// <param name="seed">The seed, if the model takes one.</param>
    /// <param name="model">The model; default: <see cref="DefaultVideo"/>.</param>
    /// <param name="deadline">How long the job may run before Replicate abandons it (<c>Cancel-After</c>).</param>
    /// <returns>The request, with <paramref name="firstFrame"/> under <see cref="GenerationBlobInput.FirstFrame"/>.</returns>
    public static GenerationRequest ImageToVideo(string prompt, GenerationBlobInput firstFrame, int? durationSeconds = null, string? aspectRatio = null, long? seed = null, string? model = null, TimeSpan? deadline = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(prompt);
        ArgumentNullException.ThrowIfNull(firstFrame);
        var name = model ?? DefaultVideo;
        var entry = FacetsOf(name);
        var input = new JsonObject { ["prompt"] = prompt };
        Set(input, "aspect_ratio", entry.TakesAspectRatio ? aspectRatio : null);
        Set(input, "duration", durationSeconds);
        Set(input, "seed", entry.TakesSeed ? seed : null);
        return new GenerationRequest(name, input)
        {
            Deadline = deadline,
            Blobs = new Dictionary<string, GenerationBlobInput>(StringComparer.Ordinal) { [GenerationBlobInput.FirstFrame] = firstFrame },
        };
    }

    /// <summary>The input that takes a model's first frame: from the catalogue, else <c>image</c>.</summary>
    internal static string FirstFrameInputOf(string model) => FindVideoModel(model)?.FirstFrameInput ?? "image";

    /// <summary>
    /// Moves a first-frame image to the input key the resolved video model expects and drops inputs it does not take;
    /// used when a request named the <see cref="DefaultVideo"/> alias.
    /// </summary>
    internal static JsonObject AdaptVideoInput(string model, JsonObject input)
    {
        var entry = FacetsOf(model);
        var adapted = (JsonObject)input.DeepClone();
        JsonNode? frame = null;
        foreach (var key in (string[])["first_frame_image", "start_image", "image"])
        {
            if (adapted.Remove(key, out var value) && value is not null)
            {
                frame ??= value;
            }
        }

        if (frame is not null)
        {
            adapted[entry.FirstFrameInput] = frame;
        }

        if (!entry.TakesSeed)
        {
            adapted.Remove("seed");
        }

        if (!entry.TakesAspectRatio)
        {
            adapted.Remove("aspect_ratio");
        }

        return adapted;
    }

    /// <summary>The catalogue entry, or the defaults of models outside it (<c>image</c>, seed and aspect ratio taken); the alias acts as MiniMax.</summary>
    private static ReplicateVideoModel FacetsOf(string model) =>
        FindVideoModel(model == DefaultVideo ? MinimaxVideo01 : model)
        ?? new ReplicateVideoModel(model, "image", [], RequiresFirstFrame: false, TakesSeed: true, TakesAspectRatio: true);

    private static void Set<T>(JsonObject input, string name, T? value)
    {
        if (value is not null)
        {
            input[name] = JsonValue.Create(value);
        }
    }
}

/// <summary>Facts about a Replicate video model (an entry of <see cref="ReplicateModels.VideoModels"/>).</summary>
/// <param name="Model">The model id (<c>owner/name</c>) or family prefix (<c>owner/name-prefix</c>, <c>owner</c>) it covers.</param>
/// <param name="FirstFrameInput">The input that takes the first frame, e.g. <c>start_image</c>.</param>
/// <param name="ClipSeconds">The clip lengths it makes, ascending; empty when any length goes.</param>
/// <param name="RequiresFirstFrame">True when it is image-to-video only.</param>
/// <param name="TakesSeed">True when it takes a <c>seed</c>.</param>
/// <param name="TakesAspectRatio">True when it takes an <c>aspect_ratio</c>.</param>
public sealed record ReplicateVideoModel(string Model, string FirstFrameInput, IReadOnlyList<int> ClipSeconds, bool RequiresFirstFrame, bool TakesSeed, bool TakesAspectRatio)
{
    /// <summary>The clip length it makes for <paramref name="seconds"/>: the next one up, or its longest.</summary>
    /// <param name="seconds">The wanted length in whole seconds.</param>
    /// <returns>A length from <see cref="ClipSeconds"/>, or <paramref name="seconds"/> when it lists none.</returns>
    public int ClipLength(int seconds) =>
        ClipSeconds.Count == 0 ? seconds : ClipSeconds.Where(l => l >= seconds).DefaultIfEmpty(ClipSeconds[^1]).First();
}
