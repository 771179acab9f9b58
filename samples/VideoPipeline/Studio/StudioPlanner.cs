using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using SkiaSharp;
using VideoPipeline.Media;
using VideoPipeline.Phases;

namespace VideoPipeline.Studio;

/// <summary>
/// The studio's stand-in for an LLM: writes a video spec from a one-line idea, deterministically. It picks a
/// template from keywords, pulls the product out of the sentence, derives mood, palette and music from descriptive
/// words, and splits the duration into beats with a template-specific shot list.
/// </summary>
public static class StudioPlanner
{
    private static readonly (string Template, string[] Keywords, (string Shot, string Line)[] Shots)[] Templates =
    [
        ("unboxing", ["unbox", "package", "gift"],
            [("close_up", "hands lift the lid of a plain box"), ("medium", "{product} revealed inside the box"), ("detail", "fingers trace the edges of {product}"), ("wide", "{product} set up on a clean table"), ("hero", "{product} front and centre, logo in view")]),
        ("lifestyle", ["morning", "daily", "life", "home", "everyday", "family"],
            [("wide", "a bright room in the {time}, {product} in its place"), ("medium", "someone reaches for {product}"), ("close_up", "{product} in use, {mood} light"), ("detail", "texture of {product} up close"), ("wide", "the room settles, {product} part of the day")]),
        ("tutorial", ["how to", "tutorial", "guide", "steps", "learn"],
            [("medium", "{product} on a workbench, ready"), ("close_up", "step one: hands set up {product}"), ("close_up", "step two: adjusting {product}"), ("detail", "the result, up close"), ("wide", "{product} done and in use")]),
        ("product_showcase", [],
            [("wide", "establishing shot of {product} on a {surface}"), ("close_up", "close-up of {product}, {mood} light"), ("detail", "macro detail of {product}'s finish"), ("medium", "{product} turning slowly on a turntable"), ("hero", "hero shot of {product} with the tagline")]),
    ];

    private static readonly (string Keyword, string Mood, string[] Palette, string Music, int Tempo, string Lighting)[] Moods =
    [
        ("cozy", "warm", ["#f4a261", "#6d4c41", "#ffe8cc"], "acoustic guitar", 84, "golden hour"),
        ("warm", "warm", ["#f4a261", "#6d4c41", "#ffe8cc"], "acoustic guitar", 84, "golden hour"),
        ("sleek", "modern", ["#1d3557", "#a8dadc", "#f1faee"], "minimal electronic", 112, "cool studio light"),
        ("modern", "modern", ["#1d3557", "#a8dadc", "#f1faee"], "minimal electronic", 112, "cool studio light"),
        ("energetic", "energetic", ["#ff006e", "#3a0ca3", "#ffbe0b"], "upbeat synth pop", 128, "high-contrast"),
        ("sport", "energetic", ["#ff006e", "#3a0ca3", "#ffbe0b"], "upbeat synth pop", 128, "high-contrast"),
        ("luxury", "elegant", ["#2b2d42", "#c9a227", "#edf2f4"], "slow strings", 70, "soft key light"),
        ("elegant", "elegant", ["#2b2d42", "#c9a227", "#edf2f4"], "slow strings", 70, "soft key light"),
        ("night", "moody", ["#0b132b", "#3a506b", "#5bc0be"], "ambient pads", 76, "low-key"),
        ("fresh", "fresh", ["#80ed99", "#22577a", "#f1faee"], "light indie pop", 104, "bright daylight"),
    ];

    private static readonly (string Keyword, string Category)[] Categories =
    [
        ("headphone", "audio"), ("speaker", "audio"), ("earbud", "audio"), ("lamp", "home"), ("chair", "home"), ("mug", "kitchen"),
        ("coffee", "food & drink"), ("tea", "food & drink"), ("shoe", "footwear"), ("sneaker", "footwear"), ("watch", "accessories"),
        ("bag", "accessories"), ("phone", "electronics"), ("camera", "electronics"), ("laptop", "electronics"), ("bottle", "outdoor"),
        ("bike", "outdoor"), ("perfume", "beauty"), ("cream", "beauty"), ("plant", "home"),
    ];

    private static readonly HashSet<string> LeadingWords = ["a", "an", "the", "our", "my", "new", "unboxing", "unbox", "introducing", "meet", "showcasing", "presenting"];

    private static readonly string[] Connectors = [" on ", " in ", " at ", " for ", " with ", " by ", " under ", " near ", ",", "."];

    /// <summary>Writes the spec for <paramref name="idea"/> as indented JSON.</summary>
    public static string WriteSpec(string idea, double totalDuration, int beatCount)
    {
        if (string.IsNullOrWhiteSpace(idea))
        {
            throw new ArgumentException("The idea is empty: describe the video in a sentence.", nameof(idea));
        }

        beatCount = Math.Clamp(beatCount, 1, SpecValidator.MaxBeats);
        var lower = idea.ToLowerInvariant();
        var template = Templates.FirstOrDefault(t => t.Keywords.Any(k => lower.Contains(k, StringComparison.Ordinal)));
        if (template.Template is null)
        {
            template = Templates[^1];
        }

        var mood = Moods.FirstOrDefault(m => lower.Contains(m.Keyword, StringComparison.Ordinal));
        if (mood.Mood is null)
        {
            mood = ("calm", "calm", PaletteFromHash(idea), "soft ambient piano", 90, "soft daylight");
        }

        var product = ProductName(idea);
        var category = Categories.FirstOrDefault(c => lower.Contains(c.Keyword, StringComparison.Ordinal)).Category ?? "general";
        var surface = lower.Contains("desk", StringComparison.Ordinal) ? "desk" : lower.Contains("kitchen", StringComparison.Ordinal) ? "kitchen counter" : "plinth";
        var time = lower.Contains("night", StringComparison.Ordinal) || lower.Contains("evening", StringComparison.Ordinal) ? "evening" : "morning";

        var durations = SplitDuration(totalDuration, beatCount);
        var beats = new List<Beat>(beatCount);
        for (var i = 0; i < beatCount; i++)
        {
            var (shot, line) = template.Shots[i % template.Shots.Length];
            var prompt = line.Replace("{product}", product, StringComparison.Ordinal)
                .Replace("{mood}", mood.Mood, StringComparison.Ordinal)
                .Replace("{surface}", surface, StringComparison.Ordinal)
                .Replace("{time}", time, StringComparison.Ordinal);
            beats.Add(new Beat($"beat_{i + 1}", durations[i], prompt, shot));
        }

        var spec = new VideoSpec(
            template.Template,
            totalDuration,
            beats,
            new SpecStyle(mood.Mood, mood.Palette, mood.Lighting),
            new SpecProduct(product, category, $"{Capitalize(product)}, made for every day."),
            new SpecAudio(mood.Music, mood.Tempo));
        return JsonSerializer.Serialize(spec, VideoSpec.Json);
    }

    /// <summary>The product: the idea up to its first connector word, without leading articles and verbs such as "unboxing".</summary>
    private static string ProductName(string idea)
    {
        var text = " " + idea.Trim() + " ";
        var cut = Connectors.Select(c => text.IndexOf(c, 1, StringComparison.OrdinalIgnoreCase)).Where(i => i > 0).DefaultIfEmpty(text.Length).Min();
        var words = text[..cut].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        while (words.Count > 1 && LeadingWords.Contains(words[0].ToLowerInvariant()))
        {
            words.RemoveAt(0);
        }

        var name = string.Join(' ', words.TakeLast(4)).Trim('"', '\'');
        return name.Length == 0 ? "the product" : name;
    }

    /// <summary>Splits the total into beats of equal length rounded to 0.1 s; the last beat takes the remainder so the sum is exact.</summary>
    private static double[] SplitDuration(double total, int count)
    {
        var each = Math.Round(total / count, 1, MidpointRounding.AwayFromZero);
        var durations = Enumerable.Repeat(each, count).ToArray();
        durations[^1] = Math.Round(total - (each * (count - 1)), 3);
        if (durations[^1] <= 0)
        {
            throw new ArgumentException($"{total.ToString(CultureInfo.InvariantCulture)} s is too short for {count} beats.");
        }

        return durations;
    }

    private static string[] PaletteFromHash(string idea)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(idea));
        var hue = hash[0] * 360.0 / 256;
        return [Hex(hue, 35, 95), Hex(hue + 30, 60, 50), Hex(hue + 180, 50, 90)];
    }

    private static string Hex(double hue, float saturation, float value) => Painter.ToHex(SKColor.FromHsv((float)(hue % 360), saturation, value));

    private static string Capitalize(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];
}
