using System.Buffers.Binary;
using System.Text;
using SkiaSharp;
using VideoPipeline.Media;
using VideoPipeline.Tests.Support;

namespace VideoPipeline.Tests;

/// <summary>The sample's media on SkiaSharp, in process: painting, PNG, the animated-PNG container, and decoding what others write.</summary>
public sealed class MediaTests
{
    [Fact]
    public void A_painted_frame_is_a_real_png_with_a_picture_in_it()
    {
        using var image = Painter.Paint("wide shot of a lamp, palette #112233 #445566", 42, 64, 36);
        var png = Images.EncodePng(image);

        var facts = MediaProbe.ReadPng(png);
        Assert.Equal((64, 36), (facts.Width, facts.Height));
        var decoded = MediaProbe.Decode(png);
        Assert.Equal(MediaProbe.Rgba(image), decoded);
        Assert.True(decoded.Colours() > 100, $"a storyboard frame has shading, hills, subjects and a caption, not {decoded.Colours()} flat colours");
    }

    [Fact]
    public void Painting_is_deterministic_and_depends_on_prompt_and_seed()
    {
        Pixels Paint(string prompt, long seed)
        {
            using var bitmap = Painter.Paint(prompt, seed, 96, 54);
            return MediaProbe.Rgba(bitmap);
        }

        var a = Paint("close-up of a mug", 7);
        Assert.Equal(a, Paint("close-up of a mug", 7));
        Assert.NotEqual(a, Paint("close-up of a mug", 8));
        Assert.NotEqual(a, Paint("close-up of a cup", 7));
    }

    [Fact]
    public void An_animated_png_holds_every_frame_and_its_first_frame_is_the_still()
    {
        using var still = Painter.Paint("medium shot", 3, 40, 24);
        var frames = Motion.Render(still, 6, CameraMove.Zoom, 3);
        var apng = Apng.Encode(frames, 4);

        var facts = MediaProbe.ReadPng(apng);
        Assert.Equal(6, facts.AnimationFrames);
        Assert.Equal(6, facts.FrameControls);
        Assert.True(Apng.IsAnimated(apng));
        Assert.False(Apng.IsAnimated(Images.EncodePng(still)));

        // Decoded independently (each frame's data as its own PNG, through SkiaSharp) and by the sample's reader.
        var independent = MediaProbe.DecodeFrames(apng);
        Assert.Equal(frames.Select(MediaProbe.Rgba), independent);
        var decoded = Apng.DecodeFrames(apng);
        Assert.Equal(independent, decoded.Select(f => MediaProbe.Rgba(f.Image)));
        Assert.All(decoded, f => Assert.Equal(0.25, f.DelaySeconds));
        Assert.Equal(MediaProbe.Rgba(still), independent[0]);
        Assert.NotEqual(independent[0], independent[^1]); // the camera moved
        Assert.Equal(MediaProbe.Rgba(still), MediaProbe.Decode(apng)); // viewers without APNG show the first frame
    }

    [Fact]
    public void The_reader_composites_partial_frames_written_elsewhere()
    {
        // 8x8 red, then a 4x4 blue region at (2, 2) blended over it: an optimised APNG as other encoders write them.
        using var red = Solid(8, 8, SKColors.Red);
        using var blue = Solid(4, 4, SKColors.Blue);
        var first = Chunks(Images.EncodePng(red));
        var second = Chunks(Images.EncodePng(blue));
        using var apng = new MemoryStream();
        apng.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        MediaProbe.WriteChunk(apng, "IHDR", first["IHDR"]);
        MediaProbe.WriteChunk(apng, "acTL", [0, 0, 0, 2, 0, 0, 0, 0]);
        MediaProbe.WriteChunk(apng, "fcTL", FrameControl(0, 8, 8, 0, 0, blend: 0));
        MediaProbe.WriteChunk(apng, "IDAT", first["IDAT"]);
        MediaProbe.WriteChunk(apng, "fcTL", FrameControl(1, 4, 4, 2, 2, blend: 1));
        MediaProbe.WriteChunk(apng, "fdAT", [0, 0, 0, 2, .. second["IDAT"]]);
        MediaProbe.WriteChunk(apng, "IEND", []);

        var frames = Apng.DecodeFrames(apng.ToArray());
        Assert.Equal(2, frames.Count);
        Assert.Equal(SKColors.Red, frames[0].Image.GetPixel(3, 3));
        Assert.Equal(SKColors.Blue, frames[1].Image.GetPixel(3, 3));
        Assert.Equal(SKColors.Red, frames[1].Image.GetPixel(0, 0));
        Assert.Equal(SKColors.Red, frames[1].Image.GetPixel(7, 7));
    }

    [Fact]
    public void Jpeg_and_webp_first_frames_decode_without_ffmpeg()
    {
        using var painted = Painter.Paint("hero shot of a bottle", 5, 64, 36);
        foreach (var format in new[] { SKEncodedImageFormat.Jpeg, SKEncodedImageFormat.Webp })
        {
            using var data = painted.Encode(format, 90);
            using var decoded = Images.Decode(data.ToArray());
            Assert.Equal((64, 36), (decoded.Width, decoded.Height));
            using var resized = Images.Resize(decoded, 256, 144);
            Assert.Equal((256, 144), (resized.Width, resized.Height));
        }
    }

    [Fact]
    public void Corrupt_files_are_refused_clearly()
    {
        using var still = Painter.Paint("medium shot", 1, 16, 16);
        var apng = Apng.Encode([still, still], 2);
        apng[^1] ^= 0xFF; // a byte of the IEND CRC
        Assert.Contains("CRC", Assert.Throws<InvalidDataException>(() => Apng.DecodeFrames(apng)).Message, StringComparison.Ordinal);
        Assert.Contains("past the end", Assert.Throws<InvalidDataException>(() => Apng.DecodeFrames(apng[..^20])).Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => Images.Decode(Encoding.ASCII.GetBytes("<html></html>")));
        var png = Images.EncodePng(still);
        Assert.Throws<InvalidDataException>(() => Images.Decode(png.AsSpan(0, png.Length / 2)));
    }

    private static SKBitmap Solid(int width, int height, SKColor colour)
    {
        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        bitmap.Erase(colour);
        return bitmap;
    }

    private static Dictionary<string, byte[]> Chunks(byte[] png)
    {
        var chunks = new Dictionary<string, byte[]>();
        for (var offset = 8; offset + 12 <= png.Length;)
        {
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(offset));
            var type = Encoding.ASCII.GetString(png, offset + 4, 4);
            chunks[type] = chunks.TryGetValue(type, out var before) ? [.. before, .. png.AsSpan(offset + 8, length)] : png.AsSpan(offset + 8, length).ToArray();
            offset += 12 + length;
        }

        return chunks;
    }

    private static byte[] FrameControl(uint sequence, uint width, uint height, uint x, uint y, byte blend)
    {
        var fctl = new byte[26];
        BinaryPrimitives.WriteUInt32BigEndian(fctl, sequence);
        BinaryPrimitives.WriteUInt32BigEndian(fctl.AsSpan(4), width);
        BinaryPrimitives.WriteUInt32BigEndian(fctl.AsSpan(8), height);
        BinaryPrimitives.WriteUInt32BigEndian(fctl.AsSpan(12), x);
        BinaryPrimitives.WriteUInt32BigEndian(fctl.AsSpan(16), y);
        BinaryPrimitives.WriteUInt16BigEndian(fctl.AsSpan(20), 1);
        BinaryPrimitives.WriteUInt16BigEndian(fctl.AsSpan(22), 10);
        fctl[25] = blend;
        return fctl;
    }
}
