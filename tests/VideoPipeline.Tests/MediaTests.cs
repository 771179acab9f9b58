using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using VideoPipeline.Media;
using VideoPipeline.Tests.Support;

namespace VideoPipeline.Tests;

/// <summary>The sample's PNG / APNG codec and painter, in process.</summary>
public sealed class MediaTests
{
    [Fact]
    public void Crc32_matches_the_standard_check_value() =>
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));

    [Fact]
    public void A_painted_image_survives_encode_and_decode_exactly()
    {
        var image = Painter.Paint("wide shot of a lamp, palette #112233 #445566", 42, 64, 36);
        var png = PngWriter.Encode(image);

        var facts = MediaProbe.ReadPng(png);
        Assert.Equal((64, 36), (facts.Width, facts.Height));
        Assert.Equal(image.Pixels, PngReader.Decode(png).Pixels);
    }

    [Fact]
    public void Painting_is_deterministic_and_depends_on_prompt_and_seed()
    {
        var a = Painter.Paint("close-up of a mug", 7, 48, 27).Pixels;
        Assert.Equal(a, Painter.Paint("close-up of a mug", 7, 48, 27).Pixels);
        Assert.NotEqual(a, Painter.Paint("close-up of a mug", 8, 48, 27).Pixels);
        Assert.NotEqual(a, Painter.Paint("close-up of a cup", 7, 48, 27).Pixels);
    }

    [Fact]
    public void An_animated_png_holds_every_frame_and_its_first_frame_is_the_still()
    {
        var still = Painter.Paint("medium shot", 3, 40, 24);
        var frames = Motion.Render(still, 6, CameraMove.Zoom, 3);
        var apng = PngWriter.EncodeAnimated(frames, 4);

        var facts = MediaProbe.ReadPng(apng);
        Assert.Equal(6, facts.AnimationFrames);
        Assert.Equal(6, facts.FrameControls);
        var decoded = PngReader.DecodeFrames(apng);
        Assert.Equal(frames.Select(f => f.Pixels), decoded.Select(f => f.Image.Pixels));
        Assert.All(decoded, f => Assert.Equal(0.25, f.DelaySeconds));
        Assert.Equal(still.Pixels, decoded[0].Image.Pixels);
        Assert.NotEqual(still.Pixels, decoded[^1].Image.Pixels); // the camera moved
        Assert.Equal(still.Pixels, PngReader.Decode(apng).Pixels); // viewers without APNG show the first frame
    }

    [Fact]
    public void The_reader_decodes_palette_images_and_every_filter_written_elsewhere()
    {
        // 4 x 3, palette, 2 bits per pixel, rows filtered None, Sub and Average, written here by hand.
        byte[] palette = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30];
        byte[] rows = [0, 0b00_01_10_11, 1, 0b11_10_01_00, 3, 0b01_01_01_01];
        var png = Build(4, 3, bitDepth: 2, colourType: 3, rows, ("PLTE", palette));
        var image = PngReader.Decode(png);
        Assert.Equal(new Rgb(255, 0, 0), image[0, 0]);
        Assert.Equal(new Rgb(10, 20, 30), image[3, 0]);

        // Truecolour with alpha: a plain row, then a Paeth-filtered row.
        byte[] rgbaRows = [0, 10, 20, 30, 255, 40, 50, 60, 255, 4, 1, 1, 1, 0, 2, 2, 2, 0];
        var second = PngReader.Decode(Build(2, 2, 8, 6, rgbaRows, null));
        Assert.Equal(new Rgb(10, 20, 30), second[0, 0]);
        Assert.Equal(new Rgb(11, 21, 31), second[0, 1]);
    }

    [Fact]
    public void The_reader_refuses_corrupt_files_clearly()
    {
        var png = PngWriter.Encode(new RgbImage(4, 4));
        png[^1] ^= 0xFF; // a byte of the IEND CRC
        Assert.Contains("CRC", Assert.Throws<InvalidDataException>(() => PngReader.Decode(png)).Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => PngReader.Decode(Encoding.ASCII.GetBytes("<html></html>")));
    }

    private static byte[] Build(int width, int height, byte bitDepth, byte colourType, byte[] filteredRows, (string Type, byte[] Data)? extra)
    {
        using var deflated = new MemoryStream();
        using (var z = new ZLibStream(deflated, CompressionLevel.Fastest, leaveOpen: true))
        {
            z.Write(filteredRows);
        }

        using var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, (uint)width);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), (uint)height);
        ihdr[8] = bitDepth;
        ihdr[9] = colourType;
        MediaProbe.WriteChunk(png, "IHDR", ihdr);
        if (extra is { } e)
        {
            MediaProbe.WriteChunk(png, e.Type, e.Data);
        }

        MediaProbe.WriteChunk(png, "IDAT", deflated.ToArray());
        MediaProbe.WriteChunk(png, "IEND", []);
        return png.ToArray();
    }
}
