using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Checkpointing.Providers.Replicate;

/// <summary>Turns a prediction's <c>output</c> (an array, one URL, a <c>data:</c> URI, tokens) into Core outputs.</summary>
internal static class OutputNormalizer
{
    public static IReadOnlyList<GenerationOutput> Normalize(Prediction prediction, Func<Uri, CancellationToken, Task<Stream>> openUrl)
    {
        var output = prediction.Output;
        if (output is null)
        {
            return [];
        }

        var results = new List<GenerationOutput>();
        if (output is JsonArray array)
        {
            var strings = array.Select(n => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : null).ToList();
            if (strings.Count > 0 && strings.All(s => s is not null) && !strings.All(s => IsFile(s!)))
            {
                // An LLM's tokens: one text.
                results.Add(new TextOutput(string.Concat(strings)));
                return results;
            }

            foreach (var item in array)
            {
                results.Add(ToOutput(prediction, item, results.Count, openUrl));
            }

            return results;
        }

        results.Add(ToOutput(prediction, output, 0, openUrl));
        return results;
    }

    private static GenerationOutput ToOutput(Prediction prediction, JsonNode? node, int index, Func<Uri, CancellationToken, Task<Stream>> openUrl)
    {
        if (node is JsonValue value && value.TryGetValue<string>(out var text))
        {
            if (TryParseDataUri(text, out var mediaType, out var bytes))
            {
                var source = new Uri($"{SourceBase(prediction)}#output-{index.ToString(CultureInfo.InvariantCulture)}");
                return new FileOutput(source, mediaType, _ => Task.FromResult<Stream>(new MemoryStream(bytes, writable: false)));
            }

            if (IsUrl(text, out var url))
            {
                return new FileOutput(url, GuessMediaType(url.AbsolutePath), ct => openUrl(url, ct));
            }

            return new TextOutput(text);
        }

        return new TextOutput(node?.ToJsonString() ?? "null");
    }

    private static string SourceBase(Prediction prediction) =>
        prediction.Urls?.GetValueOrDefault("get") is { } get && Uri.TryCreate(get, UriKind.Absolute, out _)
            ? get
            : $"https://api.replicate.com/v1/predictions/{Uri.EscapeDataString(prediction.Id)}";

    public static bool IsFile(string text) => text.StartsWith("data:", StringComparison.OrdinalIgnoreCase) || IsUrl(text, out _);

    private static bool IsUrl(string text, out Uri url) =>
        Uri.TryCreate(text, UriKind.Absolute, out url!) && (url.Scheme == Uri.UriSchemeHttps || url.Scheme == Uri.UriSchemeHttp);

    /// <summary>Decodes <c>data:[mime][;base64],payload</c>.</summary>
    public static bool TryParseDataUri(string text, out string? mediaType, out byte[] bytes)
    {
        mediaType = null;
        bytes = [];
        if (!text.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var comma = text.IndexOf(',', StringComparison.Ordinal);
        if (comma < 0)
        {
            return false;
        }

        var header = text[5..comma];
        var payload = text[(comma + 1)..];
        var isBase64 = header.EndsWith(";base64", StringComparison.OrdinalIgnoreCase);
        var type = isBase64 ? header[..^7] : header;
        var semicolon = type.IndexOf(';', StringComparison.Ordinal);
        mediaType = (semicolon >= 0 ? type[..semicolon] : type) is { Length: > 0 } t ? t : null;
        try
        {
            bytes = isBase64 ? Convert.FromBase64String(payload) : Encoding.UTF8.GetBytes(Uri.UnescapeDataString(payload));
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    public static string? GuessMediaType(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".png" => MediaTypes.Png,
        ".jpg" or ".jpeg" => MediaTypes.Jpeg,
        ".webp" => MediaTypes.WebP,
        ".gif" => MediaTypes.Gif,
        ".mp4" => MediaTypes.Mp4,
        ".webm" => MediaTypes.WebM,
        ".mp3" => MediaTypes.Mp3,
        ".wav" => MediaTypes.Wav,
        ".json" => MediaTypes.Json,
        ".txt" => "text/plain",
        _ => null,
    };

    public static string ExtensionFor(string mediaType) => mediaType.ToLowerInvariant() switch
    {
        MediaTypes.Png => ".png",
        MediaTypes.Jpeg => ".jpg",
        MediaTypes.WebP => ".webp",
        MediaTypes.Gif => ".gif",
        MediaTypes.Mp4 => ".mp4",
        MediaTypes.WebM => ".webm",
        MediaTypes.Mp3 => ".mp3",
        MediaTypes.Wav => ".wav",
        _ => ".bin",
    };
}

/// <summary>Computes a prediction's cost from the price table.</summary>
internal static class CostCalculator
{
    public static decimal Compute(Prediction prediction, ReplicatePrice price, IReadOnlyList<GenerationOutput> outputs)
    {
        var status = prediction.Status;
        if (status == PredictionStatus.Aborted)
        {
            return 0m;
        }

        var cost = 0m;
        if (prediction.Metric("predict_time") is { } seconds)
        {
            cost += price.PerPredictSecond * (decimal)seconds;
        }

        if (prediction.Metric("input_token_count") is { } inTokens)
        {
            cost += price.PerInputToken * (decimal)inTokens;
        }

        if (prediction.Metric("output_token_count") is { } outTokens)
        {
            cost += price.PerOutputToken * (decimal)outTokens;
        }

        if (status == PredictionStatus.Succeeded)
        {
            cost += price.PerPrediction;
            var files = outputs.Count(o => o is FileOutput);
            if (files == 0 && prediction.DataRemoved && prediction.Input?["num_outputs"] is JsonValue n && n.TryGetValue<int>(out var requested))
            {
                files = requested;
            }

            cost += price.PerImage * files;
            if (price.PerVideoSecond != 0 && prediction.Input?["duration"] is JsonValue d)
            {
                var duration = d.TryGetValue<double>(out var x) ? x
                    : double.TryParse(d.ToString().TrimEnd('s'), NumberStyles.Float, CultureInfo.InvariantCulture, out x) ? x : 0;
                cost += price.PerVideoSecond * (decimal)duration;
            }
        }

        return decimal.Round(cost, 6);
    }
}
