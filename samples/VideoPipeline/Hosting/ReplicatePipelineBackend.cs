using Checkpointing.Generation;
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
/// takes, so the phases stay as they are. The model facts live in the provider's catalogue
/// (<see cref="ReplicateModels.VideoModels"/>); what is left here is the pipeline's own choices.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>The planner model gets a prompt that carries the wanted beats and length, and a system prompt that asks for
/// the bare JSON object; its answer is normalised (code fences and prose dropped, <c>total_duration</c> set to the sum
/// of the beats) so the plan phase can parse and validate it.</item>
/// <item>A clip request (one with a <see cref="GenerationBlobInput.FirstFrame"/> file input, the beat image) becomes
/// <see cref="ReplicateModels.ImageToVideo"/>: the provider sends the frame (a <c>data:</c> URI when small, else the
/// files API) under the input the model expects, and the beat's length is rounded up with
/// <see cref="ReplicateModels.ClipLength"/> to a clip length the model makes.</item>
/// <item>Anything else (the storyboard's FLUX requests) passes through unchanged.</item>
/// </list>
/// </remarks>
public sealed class ReplicatePipelineBackend(ReplicateBackend replicate, IOptions<VideoPipelineOptions> options) : IGenerationBackend
{
    /// <summary>Added to the plan phase's system prompt: real LLMs like to wrap JSON in prose or Markdown.</summary>
    internal const string JsonOnly = " Reply with the JSON object only: no prose before or after it, no Markdown code fences.";

    /// <inheritdoc />
    public string Name => replicate.Name;

    /// <inheritdoc />
    public async Task<string> SubmitAsync(GenerationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return await replicate.SubmitAsync(Adapt(request, options.Value), cancellationToken);
    }

    /// <inheritdoc />
    public async Task<GenerationResult> WaitAsync(string jobId, CancellationToken cancellationToken = default) =>
        NormalizePlan(await replicate.WaitAsync(jobId, cancellationToken));

    /// <inheritdoc />
    public Task CancelAsync(string jobId, CancellationToken cancellationToken = default) => replicate.CancelAsync(jobId, cancellationToken);

    /// <summary>The request Replicate gets for a phase's request.</summary>
    internal static GenerationRequest Adapt(GenerationRequest request, VideoPipelineOptions options)
    {
        var input = request.Input;
        if (string.Equals(request.Model, options.PlannerModel, StringComparison.OrdinalIgnoreCase))
        {
            return AdaptPlan(request);
        }

        if (request.Blobs.TryGetValue(GenerationBlobInput.FirstFrame, out var firstFrame))
        {
            var prompt = String(input, "prompt") ?? throw new GenerationException($"The clip request for '{request.Model}' has no prompt.");
            var duration = Number(input, "duration") is { } seconds and > 0 ? ReplicateModels.ClipLength(request.Model, seconds) : (int?)null;
            return ReplicateModels.ImageToVideo(prompt, firstFrame, duration, String(input, "aspect_ratio"), Integer(input, "seed"), request.Model, request.Deadline);
        }

        return request;
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

}
