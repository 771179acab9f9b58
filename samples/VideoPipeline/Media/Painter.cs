using System.Security.Cryptography;
using System.Text;

namespace VideoPipeline.Media;

/// <summary>
/// Paints a deterministic storyboard frame from a prompt and a seed: a two-colour sky-to-ground gradient, a sun or
/// moon, a horizon, and a few shapes whose count and size follow the shot type named in the prompt (a close-up
/// shows one large subject, a wide shot many small ones). The same prompt and seed always give the same pixels.
/// </summary>
public static class Painter
{
    public static RgbImage Paint(string prompt, long seed, int width, int height, IReadOnlyList<Rgb>? palette = null)
    {
        var random = new DeterministicRandom(prompt, seed);
        var lower = prompt.ToLowerInvariant();
        var baseHue = random.Next(360);
        var top = palette is { Count: > 0 } ? palette[0] : Rgb.FromHsv(baseHue, 0.55, 0.95);
        var bottom = palette is { Count: > 1 } ? palette[1] : Rgb.FromHsv(baseHue + 40 + random.Next(80), 0.7, 0.45);
        var accent = palette is { Count: > 2 } ? palette[2] : Rgb.FromHsv(baseHue + 180, 0.8, 0.9);

        var image = new RgbImage(width, height);
        var horizon = (int)(height * (0.45 + (random.NextDouble() * 0.25)));
        for (var y = 0; y < height; y++)
        {
            var sky = y < horizon;
            var t = sky ? y / (double)horizon : (y - horizon) / (double)Math.Max(1, height - horizon);
            var color = sky ? Rgb.Mix(top, Rgb.Mix(top, bottom, 0.5), t) : Rgb.Mix(Rgb.Mix(bottom, top, 0.2), bottom, t);
            for (var x = 0; x < width; x++)
            {
                image[x, y] = color;
            }
        }

        // A sun (or a moon for night-time prompts) with a soft glow.
        var night = lower.Contains("night", StringComparison.Ordinal) || lower.Contains("dark", StringComparison.Ordinal);
        var sunX = width * (0.15 + (random.NextDouble() * 0.7));
        var sunY = horizon * (0.25 + (random.NextDouble() * 0.4));
        var sunRadius = height * 0.09;
        var sunColor = night ? new Rgb(230, 230, 245) : Rgb.Mix(accent, new Rgb(255, 240, 200), 0.6);
        Disc(image, sunX, sunY, sunRadius * 2.2, sunColor, 0.18);
        Disc(image, sunX, sunY, sunRadius, sunColor, 1);

        // Subjects: their number and size follow the shot type.
        var (count, scale) = lower switch
        {
            _ when lower.Contains("close", StringComparison.Ordinal) || lower.Contains("macro", StringComparison.Ordinal) => (1, 0.42),
            _ when lower.Contains("detail", StringComparison.Ordinal) => (2, 0.3),
            _ when lower.Contains("wide", StringComparison.Ordinal) || lower.Contains("establishing", StringComparison.Ordinal) => (6, 0.1),
            _ => (3, 0.18),
        };
        for (var i = 0; i < count; i++)
        {
            var size = height * scale * (0.8 + (random.NextDouble() * 0.4));
            var cx = count == 1 ? width / 2.0 : width * (0.1 + (0.8 * (i + random.NextDouble() * 0.6) / count));
            var cy = horizon + ((height - horizon) * 0.15) - (size * 0.3);
            var color = Rgb.FromHsv(baseHue + 150 + (i * 37) + random.Next(40), 0.65, 0.85);
            switch (random.Next(3))
            {
                case 0:
                    Disc(image, cx, cy, size / 2, color, 1);
                    break;
                case 1:
                    Rect(image, cx - (size / 2), cy - (size / 2), size, size, color);
                    break;
                default:
                    Triangle(image, cx, cy - (size * 0.6), size, color);
                    break;
            }

            // A soft shadow on the ground.
            Ellipse(image, cx, cy + (size * 0.55), size * 0.55, size * 0.12, new Rgb(0, 0, 0), 0.25);
        }

        return image;
    }

    private static void Disc(RgbImage image, double cx, double cy, double radius, Rgb color, double alpha) =>
        Ellipse(image, cx, cy, radius, radius, color, alpha);

    private static void Ellipse(RgbImage image, double cx, double cy, double rx, double ry, Rgb color, double alpha)
    {
        for (var y = (int)(cy - ry - 1); y <= (int)(cy + ry + 1); y++)
        {
            for (var x = (int)(cx - rx - 1); x <= (int)(cx + rx + 1); x++)
            {
                var dx = (x + 0.5 - cx) / rx;
                var dy = (y + 0.5 - cy) / ry;
                var d = Math.Sqrt((dx * dx) + (dy * dy));
                // Anti-aliased edge about one pixel wide.
                var coverage = Math.Clamp((1 - d) * Math.Min(rx, ry), 0, 1);
                image.Blend(x, y, color, coverage * alpha);
            }
        }
    }

    private static void Rect(RgbImage image, double left, double top, double width, double height, Rgb color)
    {
        for (var y = (int)top; y < (int)(top + height); y++)
        {
            for (var x = (int)left; x < (int)(left + width); x++)
            {
                // Light from above: the top of the box is brighter.
                var shade = 1 - (0.35 * (y - top) / height);
                image.Blend(x, y, new Rgb((byte)(color.R * shade), (byte)(color.G * shade), (byte)(color.B * shade)), 1);
            }
        }
    }

    private static void Triangle(RgbImage image, double apexX, double apexY, double size, Rgb color)
    {
        for (var y = (int)apexY; y < (int)(apexY + size); y++)
        {
            var half = (y - apexY) / 2;
            for (var x = (int)(apexX - half); x <= (int)(apexX + half); x++)
            {
                image.Blend(x, y, color, 1);
            }
        }
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
