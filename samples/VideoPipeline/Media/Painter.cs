using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using SkiaSharp;

namespace VideoPipeline.Media;

/// <summary>
/// Paints a deterministic storyboard frame from a prompt and a seed with SkiaSharp: a sky-to-ground gradient, a sun
/// or moon with its glow, a line of hills, the subject on a plinth or a table with its shadow (one large product for a
/// close-up, a few small ones for a wide shot), rule-of-thirds guides and a caption strip naming the shot and the
/// beat's words, as a storyboard artist would letter it. The same prompt and seed always give the same pixels on a
/// machine (text uses the system's default font).
/// </summary>
public static class Painter
{
    /// <summary>Paints a frame of <paramref name="width"/> x <paramref name="height"/>; <paramref name="palette"/> (sky, ground, accent) overrides the colours.</summary>
    public static SKBitmap Paint(string prompt, long seed, int width, int height, IReadOnlyList<SKColor>? palette = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 16);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 16);
        var random = new DeterministicRandom(prompt, seed);
        var lower = prompt.ToLowerInvariant();
        var baseHue = random.Next(360);
        var sky = palette is { Count: > 0 } ? palette[0] : SKColor.FromHsv(baseHue, 35, 95);
        var ground = palette is { Count: > 1 } ? palette[1] : SKColor.FromHsv((baseHue + 40 + random.Next(80)) % 360, 60, 45);
        var accent = palette is { Count: > 2 } ? palette[2] : SKColor.FromHsv((baseHue + 180) % 360, 70, 90);
        var night = lower.Contains("night", StringComparison.Ordinal) || lower.Contains("dark", StringComparison.Ordinal)
            || lower.Contains("low-key", StringComparison.Ordinal);
        var shot = Shot.From(lower);

        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using var canvas = new SKCanvas(bitmap);
        float w = width, h = height;
        var horizon = h * (shot.Subjects == 1 ? 0.58f : 0.5f + (float)(random.NextDouble() * 0.15));

        // Sky: from the sky colour (darkened at night) down to a haze of sky and ground at the horizon.
        var skyTop = night ? Mix(sky, new SKColor(10, 14, 40), 0.7f) : sky;
        using (var paint = new SKPaint { IsAntialias = true })
        {
            paint.Shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(0, horizon), [skyTop, Mix(skyTop, ground, 0.35f)], SKShaderTileMode.Clamp);
            canvas.DrawRect(0, 0, w, horizon + 1, paint);
        }

        // The sun (or the moon) with a soft glow.
        var sunX = w * (0.15f + (float)(random.NextDouble() * 0.7));
        var sunY = horizon * (0.25f + (float)(random.NextDouble() * 0.35));
        var sunRadius = h * 0.08f;
        var sunColour = night ? new SKColor(232, 232, 245) : Mix(accent, new SKColor(255, 240, 200), 0.6f);
        using (var glow = new SKPaint { IsAntialias = true, Color = sunColour.WithAlpha(90), MaskFilter = SKMaskFilter.CreateBlur(SKBlurStyle.Normal, sunRadius * 0.9f) })
        {
            canvas.DrawCircle(sunX, sunY, sunRadius * 1.8f, glow);
        }

        using (var disc = new SKPaint { IsAntialias = true, Color = sunColour })
        {
            canvas.DrawCircle(sunX, sunY, sunRadius, disc);
        }

        // Two lines of hills: the far one hazy, the near one in the ground colour.
        DrawHills(canvas, random, w, horizon, h * 0.16f, Mix(ground, skyTop, 0.55f));
        DrawHills(canvas, random, w, horizon + (h * 0.03f), h * 0.09f, Mix(ground, skyTop, 0.25f));

        // Ground (or a table top): a gradient to the bottom edge.
        using (var paint = new SKPaint { IsAntialias = true })
        {
            paint.Shader = SKShader.CreateLinearGradient(new SKPoint(0, horizon), new SKPoint(0, h), [Mix(ground, skyTop, 0.2f), Mix(ground, SKColors.Black, 0.35f)], SKShaderTileMode.Clamp);
            canvas.DrawRect(0, horizon + (h * 0.03f), w, h, paint);
        }

        // The subjects, lit from the sun's side, each with a shadow on the ground.
        var lightFromLeft = sunX < w / 2;
        for (var i = 0; i < shot.Subjects; i++)
        {
            var size = h * shot.Scale * (0.85f + (float)(random.NextDouble() * 0.3));
            var cx = shot.Subjects == 1 ? w / 2 : w * (0.12f + (0.76f * (i + 0.5f + ((float)random.NextDouble() - 0.5f) * 0.4f) / shot.Subjects));
            var baseY = horizon + ((h - horizon) * (shot.Subjects == 1 ? 0.55f : 0.35f));
            var colour = SKColor.FromHsv((baseHue + 150 + (i * 37) + random.Next(40)) % 360, 55, 85);
            if (palette is { Count: > 2 } && i == 0)
            {
                colour = accent;
            }

            DrawSubject(canvas, random.Next(3), cx, baseY, size, colour, lightFromLeft);
        }

        if (shot.Subjects == 1 || shot.Label == "HERO")
        {
            // A vignette pulls the eye to the centre of close and hero shots.
            using var vignette = new SKPaint { IsAntialias = true };
            vignette.Shader = SKShader.CreateRadialGradient(new SKPoint(w / 2, h / 2), Math.Max(w, h) * 0.7f, [SKColors.Transparent, SKColors.Black.WithAlpha(110)], [0.55f, 1f], SKShaderTileMode.Clamp);
            canvas.DrawRect(0, 0, w, h, vignette);
        }

        DrawStoryboardMarks(canvas, w, h, shot.Label, Caption(prompt));
        canvas.Flush();
        return bitmap;
    }

    /// <summary>The <c>#rrggbb</c> text of a colour.</summary>
    public static string ToHex(SKColor colour) => string.Create(CultureInfo.InvariantCulture, $"#{colour.Red:x2}{colour.Green:x2}{colour.Blue:x2}");

    private static void DrawHills(SKCanvas canvas, DeterministicRandom random, float width, float baseline, float amplitude, SKColor colour)
    {
        using var builder = new SKPathBuilder();
        builder.MoveTo(0, baseline + 1);
        var phase = (float)(random.NextDouble() * Math.PI * 2);
        var waves = 1.5f + (float)(random.NextDouble() * 2);
        for (var x = 0f; x <= width; x += Math.Max(1, width / 64))
        {
            var t = x / width;
            var y = baseline - (amplitude * (0.55f + (0.45f * MathF.Sin((t * waves * MathF.PI * 2) + phase))) * (0.6f + (0.4f * MathF.Sin((t * 7.3f) + phase))));
            builder.LineTo(x, y);
        }

        builder.LineTo(width, baseline + 1);
        builder.Close();
        using var path = builder.Detach();
        using var paint = new SKPaint { IsAntialias = true, Color = colour };
        canvas.DrawPath(path, paint);
    }

    /// <summary>A product-like shape standing on the ground at (<paramref name="cx"/>, <paramref name="baseY"/>): a box, a bottle or a sphere on a stand.</summary>
    private static void DrawSubject(SKCanvas canvas, int kind, float cx, float baseY, float size, SKColor colour, bool lightFromLeft)
    {
        using (var shadow = new SKPaint { IsAntialias = true, Color = SKColors.Black.WithAlpha(80), MaskFilter = SKMaskFilter.CreateBlur(SKBlurStyle.Normal, size * 0.06f) })
        {
            var offset = (lightFromLeft ? 1 : -1) * size * 0.18f;
            canvas.DrawOval(cx + offset, baseY, size * 0.55f, size * 0.1f, shadow);
        }

        var lit = Mix(colour, SKColors.White, 0.35f);
        var dark = Mix(colour, SKColors.Black, 0.45f);
        using var body = new SKPaint { IsAntialias = true };
        body.Shader = SKShader.CreateLinearGradient(
            new SKPoint(cx - (size / 2), 0), new SKPoint(cx + (size / 2), 0), lightFromLeft ? [lit, colour, dark] : [dark, colour, lit], SKShaderTileMode.Clamp);
        using var outline = new SKPaint { IsAntialias = true, Style = SKPaintStyle.Stroke, StrokeWidth = Math.Max(1, size * 0.02f), Color = Mix(colour, SKColors.Black, 0.6f) };
        switch (kind)
        {
            case 0:
                {
                    // A box with a lid.
                    var rect = SKRect.Create(cx - (size * 0.4f), baseY - (size * 0.8f), size * 0.8f, size * 0.8f);
                    canvas.DrawRoundRect(rect, size * 0.04f, size * 0.04f, body);
                    canvas.DrawRoundRect(rect, size * 0.04f, size * 0.04f, outline);
                    var lid = SKRect.Create(rect.Left - (size * 0.03f), rect.Top, rect.Width + (size * 0.06f), size * 0.16f);
                    canvas.DrawRect(lid, body);
                    canvas.DrawRect(lid, outline);
                    break;
                }

            case 1:
                {
                    // A bottle: body, shoulder and cap.
                    var rect = SKRect.Create(cx - (size * 0.22f), baseY - (size * 0.72f), size * 0.44f, size * 0.72f);
                    canvas.DrawRoundRect(rect, size * 0.1f, size * 0.1f, body);
                    canvas.DrawRoundRect(rect, size * 0.1f, size * 0.1f, outline);
                    var neck = SKRect.Create(cx - (size * 0.09f), rect.Top - (size * 0.22f), size * 0.18f, size * 0.24f);
                    canvas.DrawRect(neck, body);
                    canvas.DrawRect(neck, outline);
                    using var label = new SKPaint { IsAntialias = true, Color = SKColors.White.WithAlpha(200) };
                    canvas.DrawRect(SKRect.Create(rect.Left, rect.Top + (rect.Height * 0.35f), rect.Width, rect.Height * 0.25f), label);
                    break;
                }

            default:
                {
                    // A sphere on a stand.
                    var stand = SKRect.Create(cx - (size * 0.3f), baseY - (size * 0.12f), size * 0.6f, size * 0.12f);
                    using (var standPaint = new SKPaint { IsAntialias = true, Color = dark })
                    {
                        canvas.DrawRoundRect(stand, size * 0.03f, size * 0.03f, standPaint);
                    }

                    var r = size * 0.38f;
                    var centre = new SKPoint(cx, stand.Top - r);
                    using var sphere = new SKPaint { IsAntialias = true };
                    sphere.Shader = SKShader.CreateRadialGradient(
                        new SKPoint(centre.X + ((lightFromLeft ? -1 : 1) * r * 0.35f), centre.Y - (r * 0.35f)), r * 1.3f, [lit, colour, dark], SKShaderTileMode.Clamp);
                    canvas.DrawCircle(centre, r, sphere);
                    canvas.DrawCircle(centre, r, outline);
                    break;
                }
        }
    }

    /// <summary>Thirds guides, a frame line, and a caption strip: the shot type and the beat's words.</summary>
    private static void DrawStoryboardMarks(SKCanvas canvas, float w, float h, string label, string caption)
    {
        using (var guide = new SKPaint { IsAntialias = true, Style = SKPaintStyle.Stroke, StrokeWidth = 1, Color = SKColors.White.WithAlpha(40) })
        {
            guide.PathEffect = SKPathEffect.CreateDash([4, 4], 0);
            for (var i = 1; i <= 2; i++)
            {
                canvas.DrawLine(w * i / 3, 0, w * i / 3, h, guide);
                canvas.DrawLine(0, h * i / 3, w, h * i / 3, guide);
            }
        }

        using (var frame = new SKPaint { IsAntialias = false, Style = SKPaintStyle.Stroke, StrokeWidth = 2, Color = new SKColor(20, 20, 24) })
        {
            canvas.DrawRect(1, 1, w - 2, h - 2, frame);
        }

        var textSize = Math.Clamp(h / 14, 7, 28);
        var strip = textSize * 1.7f;
        using (var band = new SKPaint { Color = SKColors.Black.WithAlpha(150) })
        {
            canvas.DrawRect(2, h - strip - 2, w - 4, strip, band);
        }

        using var typeface = SKTypeface.FromFamilyName(null, SKFontStyle.Bold);
        using var bold = new SKFont(typeface, textSize) { Edging = SKFontEdging.Antialias };
        using var regular = new SKFont(SKTypeface.Default, textSize) { Edging = SKFontEdging.Antialias };
        using var ink = new SKPaint { IsAntialias = true, Color = new SKColor(255, 214, 102) };
        var baseline = h - 2 - (strip * 0.3f);
        canvas.DrawText(label, 6, baseline, SKTextAlign.Left, bold, ink);
        var left = 6 + bold.MeasureText(label) + (textSize * 0.6f);
        ink.Color = SKColors.White;
        canvas.DrawText(Fit(caption, regular, w - left - 6), left, baseline, SKTextAlign.Left, regular, ink);
    }

    /// <summary>The beat's own words: the prompt up to its first comma, as the storyboard caption.</summary>
    private static string Caption(string prompt)
    {
        var comma = prompt.IndexOf(',', StringComparison.Ordinal);
        var text = (comma > 0 ? prompt[..comma] : prompt).Trim();
        return text.Length == 0 ? "(no description)" : text;
    }

    /// <summary>Shortens <paramref name="text"/> with an ellipsis to fit <paramref name="width"/>.</summary>
    private static string Fit(string text, SKFont font, float width)
    {
        if (font.MeasureText(text) <= width)
        {
            return text;
        }

        var length = text.Length;
        while (length > 0 && font.MeasureText(text[..length] + "…") > width)
        {
            length--;
        }

        return length == 0 ? "" : text[..length].TrimEnd() + "…";
    }

    private static SKColor Mix(SKColor a, SKColor b, float t) => new(
        (byte)Math.Round(a.Red + ((b.Red - a.Red) * t)),
        (byte)Math.Round(a.Green + ((b.Green - a.Green) * t)),
        (byte)Math.Round(a.Blue + ((b.Blue - a.Blue) * t)));

    /// <summary>The shot type named in a prompt: its caption label, how many subjects it shows and how large.</summary>
    private readonly record struct Shot(string Label, int Subjects, float Scale)
    {
        public static Shot From(string lower) => lower switch
        {
            _ when lower.Contains("close", StringComparison.Ordinal) => new("CLOSE-UP", 1, 0.5f),
            _ when lower.Contains("macro", StringComparison.Ordinal) || lower.Contains("detail", StringComparison.Ordinal) => new("DETAIL", 1, 0.62f),
            _ when lower.Contains("hero", StringComparison.Ordinal) => new("HERO", 1, 0.42f),
            _ when lower.Contains("wide", StringComparison.Ordinal) || lower.Contains("establishing", StringComparison.Ordinal) => new("WIDE", 5, 0.16f),
            _ => new("MEDIUM", 3, 0.26f),
        };
    }

    /// <summary>A small deterministic generator seeded from SHA-256 of the prompt and seed (same inputs, same numbers on every platform).</summary>
    private sealed class DeterministicRandom(string prompt, long seed)
    {
        private byte[] _block = SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}|{prompt}"));
        private int _position;

        public int Next(int maxExclusive) => (int)(NextUInt() % (uint)maxExclusive);

        public double NextDouble() => NextUInt() / (double)uint.MaxValue;

        private uint NextUInt()
        {
            if (_position + 4 > _block.Length)
            {
                _block = SHA256.HashData(_block);
                _position = 0;
            }

            var value = BitConverter.ToUInt32(_block, _position);
            _position += 4;
            return value;
        }
    }
}
