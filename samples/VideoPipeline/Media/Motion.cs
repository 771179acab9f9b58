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

/// <summary>Renders the frames of a clip from its first frame: frame 0 is the image itself, later frames move the camera.</summary>
public static class Motion
{
    public static IReadOnlyList<RgbImage> Render(RgbImage firstFrame, int frameCount, CameraMove move, long seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frameCount, 1);
        var width = firstFrame.Width;
        var height = firstFrame.Height;
        // The point the camera heads for, from the seed.
        var focusX = 0.3 + (Remainder(seed, 41) / 100.0);
        var focusY = 0.35 + (Remainder(seed / 41, 31) / 100.0);
        var frames = new List<RgbImage>(frameCount) { firstFrame.Clone() };
        for (var i = 1; i < frameCount; i++)
        {
            var t = i / (double)Math.Max(1, frameCount - 1);
            var eased = t * t * (3 - (2 * t));
            var (zoom, cx, cy) = move switch
            {
                CameraMove.Zoom => (1 - (0.3 * eased), 0.5 + ((focusX - 0.5) * eased), 0.5 + ((focusY - 0.5) * eased)),
                CameraMove.Sweep => (1 - (0.12 * eased), 0.5, 0.5),
                _ => (1 - (0.15 * eased), 0.5 + ((Remainder(seed, 2) == 0 ? 0.07 : -0.07) * eased), 0.5),
            };
            var w = width * zoom;
            var h = height * zoom;
            var left = Math.Clamp((cx * width) - (w / 2), 0, width - w);
            var top = Math.Clamp((cy * height) - (h / 2), 0, height - h);
            var frame = firstFrame.Sample(left, top, w, h, width, height);
            if (move == CameraMove.Sweep)
            {
                var band = -0.2 + (1.4 * t);
                for (var y = 0; y < height; y++)
                {
                    for (var x = 0; x < width; x++)
                    {
                        var d = Math.Abs((x / (double)width) + (y / (double)height * 0.3) - band);
                        frame.Blend(x, y, new Rgb(255, 250, 235), Math.Max(0, 0.35 - (d * 2)));
                    }
                }
            }

            frames.Add(frame);
        }

        return frames;
    }

    /// <summary>A non-negative remainder, for any seed (including negative ones).</summary>
    private static long Remainder(long value, long divisor) => ((value % divisor) + divisor) % divisor;
}
