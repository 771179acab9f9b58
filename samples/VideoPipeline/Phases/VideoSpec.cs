using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace VideoPipeline.Phases;

/// <summary>The plan written in phase 1: a template, a total duration, the beats, and style, product and audio notes.</summary>
public sealed record VideoSpec(
    [property: JsonPropertyName("template")] string Template,
    [property: JsonPropertyName("total_duration")] double TotalDuration,
    [property: JsonPropertyName("beats")] IReadOnlyList<Beat> Beats,
    [property: JsonPropertyName("style")] SpecStyle Style,
    [property: JsonPropertyName("product")] SpecProduct Product,
    [property: JsonPropertyName("audio")] SpecAudio Audio)
{
    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true };
}

/// <summary>One beat: a shot of the video.</summary>
public sealed record Beat(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("duration")] double Duration,
    [property: JsonPropertyName("prompt")] string Prompt,
    [property: JsonPropertyName("shot_type")] string ShotType);

public sealed record SpecStyle(
    [property: JsonPropertyName("mood")] string Mood,
    [property: JsonPropertyName("palette")] IReadOnlyList<string> Palette,
    [property: JsonPropertyName("lighting")] string? Lighting = null);

public sealed record SpecProduct(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("category")] string Category,
    [property: JsonPropertyName("tagline")] string? Tagline = null);

public sealed record SpecAudio(
    [property: JsonPropertyName("music_style")] string MusicStyle,
    [property: JsonPropertyName("tempo_bpm")] int? TempoBpm = null);

/// <summary>
/// Checks a spec document and lists every problem with its JSON path: the shape (required fields and their types),
/// at least one beat, positive beat durations that add up to <c>total_duration</c>, and unique beat ids.
/// </summary>
public static class SpecValidator
{
    public const int MaxBeats = 24;

    public static IReadOnlyList<string> Validate(JsonElement spec)
    {
        var errors = new List<string>();
        if (spec.ValueKind != JsonValueKind.Object)
        {
            return [$"the spec must be a JSON object, not {Describe(spec)}"];
        }

        RequireString(spec, "template", "template", errors);
        var total = RequireNumber(spec, "total_duration", "total_duration", errors);
        if (total is <= 0)
        {
            errors.Add($"total_duration must be positive, not {Format(total.Value)}");
        }

        if (!spec.TryGetProperty("beats", out var beats) || beats.ValueKind != JsonValueKind.Array)
        {
            errors.Add(spec.TryGetProperty("beats", out var b) ? $"beats must be an array, not {Describe(b)}" : "beats is missing");
        }
        else if (beats.GetArrayLength() == 0)
        {
            errors.Add("the spec needs at least one beat");
        }
        else if (beats.GetArrayLength() > MaxBeats)
        {
            errors.Add($"the spec has {beats.GetArrayLength()} beats; at most {MaxBeats} are allowed");
        }
        else
        {
            var ids = new Dictionary<string, int>(StringComparer.Ordinal);
            var sum = 0.0;
            var allDurations = true;
            var i = 0;
            foreach (var beat in beats.EnumerateArray())
            {
                i++;
                var path = $"beats[{i}]";
                if (beat.ValueKind != JsonValueKind.Object)
                {
                    errors.Add($"{path} must be an object, not {Describe(beat)}");
                    allDurations = false;
                    continue;
                }

                if (RequireString(beat, "id", $"{path}.id", errors) is { } id && !ids.TryAdd(id, i))
                {
                    errors.Add($"beat id '{id}' is used by beats[{ids[id]}] and {path}; beat ids must be unique");
                }

                var duration = RequireNumber(beat, "duration", $"{path}.duration", errors);
                if (duration is null)
                {
                    allDurations = false;
                }
                else if (duration <= 0)
                {
                    errors.Add($"{path}.duration must be positive, not {Format(duration.Value)}");
                    allDurations = false;
                }
                else
                {
                    sum += duration.Value;
                }

                RequireString(beat, "prompt", $"{path}.prompt", errors);
                RequireString(beat, "shot_type", $"{path}.shot_type", errors);
            }

            if (allDurations && total is > 0 && Math.Abs(sum - total.Value) > 0.01)
            {
                errors.Add($"the beat durations add up to {Format(sum)} s, not total_duration {Format(total.Value)} s");
            }
        }

        if (RequireObject(spec, "style", errors) is { } style)
        {
            RequireString(style, "mood", "style.mood", errors);
            if (style.TryGetProperty("palette", out var palette)
                && (palette.ValueKind != JsonValueKind.Array || palette.EnumerateArray().Any(c => c.ValueKind != JsonValueKind.String)))
            {
                errors.Add("style.palette must be an array of colours such as \"#f4a261\"");
            }
        }

        if (RequireObject(spec, "product", errors) is { } product)
        {
            RequireString(product, "name", "product.name", errors);
            RequireString(product, "category", "product.category", errors);
        }

        if (RequireObject(spec, "audio", errors) is { } audio)
        {
            RequireString(audio, "music_style", "audio.music_style", errors);
        }

        return errors;
    }

    private static string? RequireString(JsonElement parent, string name, string path, List<string> errors)
    {
        if (!parent.TryGetProperty(name, out var value))
        {
            errors.Add($"{path} is missing");
            return null;
        }

        if (value.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(value.GetString()))
        {
            errors.Add($"{path} must be a non-empty string, not {Describe(value)}");
            return null;
        }

        return value.GetString();
    }

    private static double? RequireNumber(JsonElement parent, string name, string path, List<string> errors)
    {
        if (!parent.TryGetProperty(name, out var value))
        {
            errors.Add($"{path} is missing");
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number)
        {
            errors.Add($"{path} must be a number of seconds, not {Describe(value)}");
            return null;
        }

        return value.GetDouble();
    }

    private static JsonElement? RequireObject(JsonElement parent, string name, List<string> errors)
    {
        if (!parent.TryGetProperty(name, out var value))
        {
            errors.Add($"{name} is missing");
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            errors.Add($"{name} must be an object, not {Describe(value)}");
            return null;
        }

        return value;
    }

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{Truncate(value.GetString() ?? "")}\"",
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        JsonValueKind.True or JsonValueKind.False => $"{value.GetRawText()}",
        _ => "null",
    };

    private static string Truncate(string text) => text.Length <= 40 ? text : text[..40] + "…";

    private static string Format(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}
