namespace VideoPipeline.Media;

/// <summary>An 8-bit RGB raster, row-major, three bytes per pixel.</summary>
public sealed class RgbImage
{
    /// <summary>Creates a black image.</summary>
    public RgbImage(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        Width = width;
        Height = height;
        Pixels = new byte[width * height * 3];
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>The pixels: R, G, B for (0,0), then (1,0), …, row by row.</summary>
    public byte[] Pixels { get; }

    public Rgb this[int x, int y]
    {
        get
        {
            var i = ((y * Width) + x) * 3;
            return new Rgb(Pixels[i], Pixels[i + 1], Pixels[i + 2]);
        }
        set
        {
            var i = ((y * Width) + x) * 3;
            Pixels[i] = value.R;
            Pixels[i + 1] = value.G;
            Pixels[i + 2] = value.B;
        }
    }

    public RgbImage Clone()
    {
        var copy = new RgbImage(Width, Height);
        Pixels.CopyTo(copy.Pixels, 0);
        return copy;
    }

    /// <summary>Mixes <paramref name="color"/> into pixel (x, y) with weight <paramref name="alpha"/> (0..1); ignores pixels outside.</summary>
    public void Blend(int x, int y, Rgb color, double alpha)
    {
        if (x < 0 || y < 0 || x >= Width || y >= Height || alpha <= 0)
        {
            return;
        }

        this[x, y] = alpha >= 1 ? color : Rgb.Mix(this[x, y], color, alpha);
    }

    /// <summary>
    /// Samples the rectangle (<paramref name="left"/>, <paramref name="top"/>, <paramref name="width"/> x
    /// <paramref name="height"/>, in source pixels) into a new image of the given size with bilinear filtering.
    /// Sampling the whole image at its own size returns an exact copy.
    /// </summary>
    public RgbImage Sample(double left, double top, double width, double height, int outWidth, int outHeight)
    {
        if (outWidth == Width && outHeight == Height && left == 0 && top == 0 && width == Width && height == Height)
        {
            return Clone();
        }

        var result = new RgbImage(outWidth, outHeight);
        var sx = width / outWidth;
        var sy = height / outHeight;
        for (var y = 0; y < outHeight; y++)
        {
            var fy = Math.Clamp(top + ((y + 0.5) * sy) - 0.5, 0, Height - 1);
            var y0 = (int)fy;
            var y1 = Math.Min(y0 + 1, Height - 1);
            var wy = fy - y0;
            for (var x = 0; x < outWidth; x++)
            {
                var fx = Math.Clamp(left + ((x + 0.5) * sx) - 0.5, 0, Width - 1);
                var x0 = (int)fx;
                var x1 = Math.Min(x0 + 1, Width - 1);
                var wx = fx - x0;
                var top0 = Rgb.Mix(this[x0, y0], this[x1, y0], wx);
                var bottom = Rgb.Mix(this[x0, y1], this[x1, y1], wx);
                result[x, y] = Rgb.Mix(top0, bottom, wy);
            }
        }

        return result;
    }

    /// <summary>Scales the whole image to the given size.</summary>
    public RgbImage Resize(int outWidth, int outHeight) => Sample(0, 0, Width, Height, outWidth, outHeight);
}

/// <summary>An RGB colour.</summary>
public readonly record struct Rgb(byte R, byte G, byte B)
{
    public static Rgb Mix(Rgb a, Rgb b, double t) => new(
        (byte)Math.Round(a.R + ((b.R - a.R) * t)),
        (byte)Math.Round(a.G + ((b.G - a.G) * t)),
        (byte)Math.Round(a.B + ((b.B - a.B) * t)));

    /// <summary>A colour from hue (0..360), saturation and value (0..1).</summary>
    public static Rgb FromHsv(double hue, double saturation, double value)
    {
        hue = ((hue % 360) + 360) % 360;
        var c = value * saturation;
        var x = c * (1 - Math.Abs((hue / 60 % 2) - 1));
        var m = value - c;
        var (r, g, b) = (int)(hue / 60) switch
        {
            0 => (c, x, 0d),
            1 => (x, c, 0d),
            2 => (0d, c, x),
            3 => (0d, x, c),
            4 => (x, 0d, c),
            _ => (c, 0d, x),
        };
        return new Rgb((byte)Math.Round((r + m) * 255), (byte)Math.Round((g + m) * 255), (byte)Math.Round((b + m) * 255));
    }

    /// <summary>Parses <c>#rrggbb</c>.</summary>
    public static bool TryParseHex(string? text, out Rgb color)
    {
        color = default;
        if (text is not { Length: 7 } || text[0] != '#'
            || !int.TryParse(text.AsSpan(1), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out var v))
        {
            return false;
        }

        color = new Rgb((byte)(v >> 16), (byte)(v >> 8), (byte)v);
        return true;
    }

    public string ToHex() => $"#{R:x2}{G:x2}{B:x2}";
}
