using SkiaSharp;

namespace VideoPipeline.Media;

/// <summary>How a clip moves the camera over its first frame.</summary>
public enum CameraMove
{
    /// <summary>Slow push in with a sideways drift.</summary>
    Pan,
    /// <summary>Zoom in on a point of interest.</summary>
    Zoom,
    /// <summary>Push in while a band of light sweeps across.</summary>
    Sweep,
}

/// <summary>Renders the frames of a clip from its first frame with SkiaSharp: frame 0 is the image itself, later frames move the camera.</summary>
public static class Motion
{
    public static IReadOnlyList<SKBitmap> Render(SKBitmap firstFrame, int frameCount, CameraMove move, long seed)
    {
        ArgumentNullException.ThrowIfNull(firstFrame);
        ArgumentOutOfRangeException.ThrowIfLessThan(frameCount, 1);
        var width = firstFrame.Width;
        var height = firstFrame.Height;
        // The point the camera heads for, from the seed.
        var focusX = 0.3f + (Remainder(seed, 41) / 100f);
        var focusY = 0.35f + (Remainder(seed / 41, 31) / 100f);
        var drift = Remainder(seed, 2) == 0 ? 0.07f : -0.07f;
        using var source = SKImage.FromBitmap(firstFrame);
        var sampling = new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.None);
        var frames = new List<SKBitmap>(frameCount) { firstFrame.Copy() };
        for (var i = 1; i < frameCount; i++)
        {
            var t = i / (float)Math.Max(1, frameCount - 1);
            var eased = t * t * (3 - (2 * t));
            var (zoom, cx, cy) = move switch
            {
                CameraMove.Zoom => (1 - (0.3f * eased), 0.5f + ((focusX - 0.5f) * eased), 0.5f + ((focusY - 0.5f) * eased)),
                CameraMove.Sweep => (1 - (0.12f * eased), 0.5f, 0.5f),
                _ => (1 - (0.15f * eased), 0.5f + (drift * eased), 0.5f),
            };
            var w = width * zoom;
            var h = height * zoom;
            var left = Math.Clamp((cx * width) - (w / 2), 0, width - w);
            var top = Math.Clamp((cy * height) - (h / 2), 0, height - h);

            var frame = new SKBitmap(firstFrame.Info);
            using (var canvas = new SKCanvas(frame))
            {
                canvas.DrawImage(source, SKRect.Create(left, top, w, h), SKRect.Create(0, 0, width, height), sampling);
                if (move == CameraMove.Sweep)
                {
                    // A diagonal band of warm light crossing the frame from left to right.
                    var band = (-0.2f + (1.4f * t)) * width;
                    using var light = new SKPaint { IsAntialias = true, BlendMode = SKBlendMode.Screen };
                    light.Shader = SKShader.CreateLinearGradient(
                        new SKPoint(band - (width * 0.2f), 0), new SKPoint(band + (width * 0.2f), height * 0.3f),
                        [SKColors.Transparent, new SKColor(255, 250, 235, 110), SKColors.Transparent], SKShaderTileMode.Clamp);
                    canvas.DrawRect(0, 0, width, height, light);
                }
            }

            frames.Add(frame);
        }

        return frames;
    }

    /// <summary>A non-negative remainder, for any seed (including negative ones).</summary>
    private static long Remainder(long value, long divisor) => ((value % divisor) + divisor) % divisor;
}
