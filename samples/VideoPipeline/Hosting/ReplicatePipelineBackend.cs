using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Checkpointing;
using Checkpointing.Providers.Replicate;
using Microsoft.Extensions.Options;
using VideoPipeline.Phases;

namespace VideoPipeline.Hosting;

/// <summary>
/// The phases' backend when <c>Checkpointing:Backend</c> is <c>replicate</c>: a decorator over
/// <see cref="ReplicateBackend"/> that turns the phases' provider-neutral requests into what each Replicate model
/// takes, so the phases stay as they are.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>The planner model gets a prompt that carries the wanted beats and length, and a system prompt that asks for
/// the bare JSON object; its answer is normalised (code fences and prose dropped, <c>total_duration</c> set to the sum
/// of the beats) so the plan phase can parse and validate it.</item>
/// <item>A clip request's <c>first_frame_image</c> is a read URL of the blob store (a <c>file:</c> URL with the file
/// store), which Replicate cannot read: it is accepted only when the configured blob store issued it (the URL names an
/// existing blob and the store gives the same URL for it), read through <see cref="IBlobStore"/>, and sent with
/// <see cref="ReplicateBackend.PrepareFileInputAsync"/> (a <c>data:</c> URI when small, else the files API). The
/// request is then rebuilt with <see cref="ReplicateModels.Video"/>, which puts the first frame where the model family
/// expects it (<c>start_image</c> for Kling, <c>first_frame_image</c> for MiniMax / Hailuo, <c>image</c> for Veo);
/// the clip length is rounded up to one the model makes.</item>
/// <item>Anything else (the storyboard's FLUX requests) passes through unchanged.</item>
/// </list>
/// </remarks>
public sealed class ReplicatePipelineBackend(ReplicateBackend replicate, IBlobStore blobs, IOptions<VideoPipelineOptions> options) : IGenerationBackend
{
    /// <summary>Added to the plan phase's system prompt: real LLMs like to wrap JSON in prose or Markdown.</summary>
    internal const string JsonOnly = " Reply with the JSON object only: no prose before or after it, no Markdown code fences.";

    /// <summary>
    /// Clip lengths (seconds) the video models make, by model id prefix; a beat's duration is rounded up to the next one
    /// (or the longest). Check them against the models' pages when adding a model.
    /// </summary>
    private static readonly (string Prefix, int[] Seconds)[] ClipLengths =
    [
        ("kwaivgi/kling", [5, 10]),
        ("minimax/hailuo-02", [6, 10]),
        ("google/veo-3", [8]),
    ];

    /// <inheritdoc />
    public string Name => replicate.Name;

    /// <inheritdoc />
    public async Task<string> SubmitAsync(GenerationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return await replicate.SubmitAsync(await AdaptAsync(request, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public async Task<GenerationResult> WaitAsync(string jobId, CancellationToken cancellationToken = default) =>
        NormalizePlan(await replicate.WaitAsync(jobId, cancellationToken));

    /// <inheritdoc />
    public Task CancelAsync(string jobId, CancellationToken cancellationToken = default) => replicate.CancelAsync(jobId, cancellationToken);

    /// <summary>The request Replicate gets for a phase's request.</summary>
    internal async Task<GenerationRequest> AdaptAsync(GenerationRequest request, CancellationToken ct)
    {
        var input = request.Input;
        if (string.Equals(request.Model, options.Value.PlannerModel, StringComparison.OrdinalIgnoreCase))
        {
            return AdaptPlan(request);
        }

        if (input["first_frame_image"] is JsonValue frame && frame.TryGetValue<string>(out var frameUrl))
        {
            var prompt = String(input, "prompt") ?? throw new GenerationException($"The clip request for '{request.Model}' has no prompt.");
            var firstFrame = await PrepareFirstFrameAsync(frameUrl, ct);
            var duration = Number(input, "duration") is { } seconds ? ClipLength(request.Model, seconds) : (int?)null;
            return ReplicateModels.Video(prompt, firstFrame, duration, String(input, "aspect_ratio"), Integer(input, "seed"), request.Model, request.Deadline);
        }

        return request;
    }

    /// <summary>A clip length the model makes: the beat's duration rounded up to the next one it offers.</summary>
    internal static int ClipLength(string model, double seconds)
    {
        var wanted = Math.Max(1, (int)Math.Ceiling(seconds - 1e-9));
        foreach (var (prefix, lengths) in ClipLengths)
        {
            if (model.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return lengths.Where(l => l >= wanted).DefaultIfEmpty(lengths[^1]).First();
            }
        }

        return wanted;
    }

    private static GenerationRequest AdaptPlan(GenerationRequest request)
    {
        var input = request.Input;
        var idea = String(input, "prompt") ?? "";
        var beats = Number(input, "beats");
        var duration = Number(input, "duration");
        var prompt = idea;
        if (beats is not null || duration is not null)
        {
            prompt += "\n\nPlan " + (beats is { } b ? $"{b.ToString(CultureInfo.InvariantCulture)} beats" : "the beats")
                + (duration is { } d ? $" for a video of {d.ToString(CultureInfo.InvariantCulture)} seconds" : "") + ".";
        }

        var system = (String(input, "system_prompt") ?? "Answer with one JSON object.") + JsonOnly;
        var maxTokens = Integer(input, "max_tokens") is { } max ? (int)Math.Min(max, int.MaxValue) : (int?)null;
        return ReplicateModels.Text(prompt, system, maxTokens, model: request.Model) with { Deadline = request.Deadline };
    }

    /// <summary>
    /// Makes a first frame Replicate can read. <c>data:</c> URIs and http(s) URLs (e.g. a cloud store's presigned URL)
    /// go as they are; any other URL must be one the blob store issued, and its bytes are read through the store.
    /// </summary>
    private async Task<string> PrepareFirstFrameAsync(string value, CancellationToken ct)
    {
        if (value.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            return value;
        }

        if (!Uri.TryCreate(value, UriKind.Absolute, out var url))
        {
            throw new GenerationException($"first_frame_image '{Shorten(value)}' is not a URL.");
        }

        if (url.Scheme == Uri.UriSchemeHttps || url.Scheme == Uri.UriSchemeHttp)
        {
            return value;
        }

        var refused = new GenerationException($"first_frame_image '{Shorten(value)}' is not a read URL of this pipeline's blob store; only its blobs are sent to Replicate.");
        var hash = Uri.UnescapeDataString(url.Segments[^1]);
        if (!BlobHash.IsValid(hash) || !await blobs.ExistsAsync(hash, ct))
        {
            throw refused;
        }

        byte[] bytes;
        await using (var stream = await blobs.OpenReadAsync(hash, ct))
        using (var copy = new MemoryStream())
        {
            await stream.CopyToAsync(copy, ct);
            bytes = copy.ToArray();
        }

        var mediaType = MediaTypes.Detect(bytes.AsSpan(0, Math.Min(bytes.Length, MediaTypes.SniffLength))) ?? MediaTypes.OctetStream;
        var issued = await blobs.GetReadUrlAsync(new BlobReference(hash, bytes.Length, mediaType), TimeSpan.FromMinutes(5), ct);
        if (!string.Equals(issued.AbsoluteUri, url.AbsoluteUri, StringComparison.Ordinal))
        {
            throw refused;
        }

        using var content = new MemoryStream(bytes, writable: false);
        return await replicate.PrepareFileInputAsync(content, mediaType, ct);
    }

    /// <summary>
    /// Normalises an LLM's plan: the JSON object without the prose or code fences around it, and a
    /// <c>total_duration</c> equal to the sum of the beats (LLMs add up badly). Other results pass through.
    /// </summary>
    internal static GenerationResult NormalizePlan(GenerationResult result)
    {
        if (result.Status != GenerationStatus.Succeeded || result.Outputs.Count == 0 || !result.Outputs.All(o => o is TextOutput))
        {
            return result;
        }

        var text = result.Text;
        var start = text.IndexOf('{', StringComparison.Ordinal);
        var end = text.LastIndexOf('}');
        if (start < 0 || end < start)
        {
            return result;
        }

        JsonObject spec;
        try
        {
            if (JsonNode.Parse(text.AsSpan(start, end - start + 1).ToString()) is not JsonObject parsed || parsed["beats"] is not JsonArray)
            {
                return result;
            }

            spec = parsed;
        }
        catch (JsonException)
        {
            return result;
        }

        var durations = spec["beats"]!.AsArray().Select(b => b is JsonObject beat ? Number(beat, "duration") : null).ToList();
        if (durations.Count > 0 && durations.All(d => d is > 0))
        {
            var sum = Math.Round(durations.Sum(d => d!.Value), 3);
            if (Number(spec, "total_duration") is not { } total || Math.Abs(total - sum) > 0.01)
            {
                spec["total_duration"] = sum;
            }
        }

        return result with { Outputs = [new TextOutput(spec.ToJsonString())] };
    }

    private static string? String(JsonObject input, string name) =>
        input[name] is JsonValue v && v.TryGetValue<string>(out var s) && !string.IsNullOrWhiteSpace(s) ? s : null;

    /// <summary>A number input, whatever CLR type it was made from (an int, a long, a double or parsed JSON).</summary>
    private static double? Number(JsonObject input, string name) =>
        input[name] is JsonValue v && v.GetValueKind() == JsonValueKind.Number
            ? double.Parse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture)
            : null;

    private static long? Integer(JsonObject input, string name) =>
        input[name] is JsonValue v && v.GetValueKind() == JsonValueKind.Number
        && long.TryParse(v.ToJsonString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : null;

    private static string Shorten(string value) => value.Length <= 80 ? value : value[..80] + "…";
}
