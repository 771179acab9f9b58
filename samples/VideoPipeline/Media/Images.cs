using SkiaSharp;

namespace VideoPipeline.Media;

/// <summary>Still images through SkiaSharp: decoding any format it reads (PNG, JPEG, WebP, GIF, …), PNG encoding and resizing.</summary>
public static class Images
{
    /// <summary>Decodes the (first frame of the) image in <paramref name="bytes"/> as opaque RGBA.</summary>
    /// <exception cref="InvalidDataException">The bytes are not an image SkiaSharp can decode, or are truncated.</exception>
    public static SKBitmap Decode(ReadOnlySpan<byte> bytes)
    {
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data) ?? throw new InvalidDataException("The file is not an image this program can decode (PNG, JPEG, WebP or GIF).");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        var decoded = new SKBitmap(info);
        var result = codec.GetPixels(info, decoded.GetPixels());
        if (result != SKCodecResult.Success)
        {
            decoded.Dispose();
            throw new InvalidDataException($"The image could not be decoded completely ({result}).");
        }

        return Flatten(decoded);
    }

    /// <summary>Encodes <paramref name="bitmap"/> as a PNG.</summary>
    public static byte[] EncodePng(SKBitmap bitmap)
    {
        ArgumentNullException.ThrowIfNull(bitmap);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100) ?? throw new InvalidOperationException("SkiaSharp could not encode the image as PNG.");
        return data.ToArray();
    }

    /// <summary>Scales <paramref name="bitmap"/> to the given size (a copy when it has that size already).</summary>
    public static SKBitmap Resize(SKBitmap bitmap, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(bitmap);
        if (bitmap.Width == width && bitmap.Height == height)
        {
            return bitmap.Copy();
        }

        var resized = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using var canvas = new SKCanvas(resized);
        using var image = SKImage.FromBitmap(bitmap);
        canvas.DrawImage(image, SKRect.Create(0, 0, width, height), new SKSamplingOptions(SKCubicResampler.Mitchell));
        return resized;
    }

    /// <summary>The image on black, opaque: frames and clips have no transparency.</summary>
    internal static SKBitmap Flatten(SKBitmap image)
    {
        var opaque = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using (var canvas = new SKCanvas(opaque))
        {
            canvas.Clear(SKColors.Black);
            canvas.DrawBitmap(image, 0, 0, default(SKSamplingOptions), null);
        }

        image.Dispose();
        return opaque;
    }
}
