using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Checkpointing.Providers.Replicate;

/// <summary>A prediction as the API returns it (only the fields this package reads).</summary>
internal sealed class Prediction
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
    };

    public string Id { get; set; } = "";

    public string? Model { get; set; }

    public string? Version { get; set; }

    public string? Status { get; set; }

    public JsonObject? Input { get; set; }

    public JsonNode? Output { get; set; }

    public JsonNode? Error { get; set; }

    public string? Logs { get; set; }

    public bool DataRemoved { get; set; }

    public DateTimeOffset? CreatedAt { get; set; }

    public DateTimeOffset? StartedAt { get; set; }

    public DateTimeOffset? CompletedAt { get; set; }

    public string? Webhook { get; set; }

    public Dictionary<string, string?>? Urls { get; set; }

    public JsonObject? Metrics { get; set; }

    public bool IsTerminal => PredictionStatus.IsTerminal(Status);

    public string? ErrorText => Error switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        var other => other.ToJsonString(),
    };

    public Uri? StreamUrl => Urls?.GetValueOrDefault("stream") is { } s && Uri.TryCreate(s, UriKind.Absolute, out var u) ? u : null;

    public double? Metric(string name) =>
        Metrics?[name] is JsonValue value
            ? value.TryGetValue<double>(out var d) ? d
            : value.TryGetValue<string>(out var s) && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out d) ? d : null
            : null;

    public static Prediction Parse(ReadOnlySpan<byte> json)
    {
        var prediction = JsonSerializer.Deserialize<Prediction>(json, Json);
        if (prediction is null || string.IsNullOrEmpty(prediction.Id))
        {
            throw new JsonException("The response is not a prediction: it has no 'id'.");
        }

        return prediction;
    }
}

/// <summary>Replicate's prediction statuses.</summary>
internal static class PredictionStatus
{
    public const string Starting = "starting";
    public const string Processing = "processing";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Canceled = "canceled";
    public const string Aborted = "aborted";

    public static bool IsTerminal(string? status) => status is Succeeded or Failed or Canceled or Aborted;

    public static bool IsKnown(string? status) => status is Starting or Processing || IsTerminal(status);

    public static GenerationStatus ToGenerationStatus(string status) => status switch
    {
        Succeeded => GenerationStatus.Succeeded,
        Failed => GenerationStatus.Failed,
        Canceled => GenerationStatus.Canceled,
        Aborted => GenerationStatus.Aborted,
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "Not a terminal status."),
    };
}

/// <summary>A page of <c>GET /v1/predictions</c>.</summary>
internal sealed class PredictionPage
{
    public string? Next { get; set; }

    public List<Prediction> Results { get; set; } = [];
}

/// <summary>The answer of <c>POST /v1/files</c>.</summary>
internal sealed class UploadedFile
{
    public string Id { get; set; } = "";

    public Dictionary<string, string?>? Urls { get; set; }
}
