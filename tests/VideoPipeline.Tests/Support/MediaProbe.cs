using System.Buffers.Binary;
using System.Text;
using SkiaSharp;

namespace VideoPipeline.Tests.Support;

/// <summary>What a PNG's chunks say: size from IHDR, and for an animated PNG the acTL frame count and fcTL chunks.</summary>
/// <summary>Decoded pixels (opaque RGBA); equal when size and every byte are equal.</summary>
public sealed record Pixels(int Width, int Height, byte[] Rgba)
{
    public bool Equals(Pixels? other) => other is not null && (Width, Height) == (other.Width, other.Height) && Rgba.AsSpan().SequenceEqual(other.Rgba);

    public override int GetHashCode() => HashCode.Combine(Width, Height, Rgba.Length);

    /// <summary>How many different colours the image has.</summary>
    public int Colours() => Enumerable.Range(0, Rgba.Length / 4).Select(i => BitConverter.ToInt32(Rgba, i * 4)).Distinct().Count();
}

public sealed record PngFacts(int Width, int Height, int? AnimationFrames, int FrameControls, IReadOnlyList<string> Chunks);

/// <summary>
/// Reads media independently of the sample's code: the PNG signature and chunk list (every CRC checked), IHDR, acTL
/// and fcTL; an MP4's leading ftyp box; and the pixels, decoded with SkiaSharp (an animated PNG frame by frame).
/// </summary>
public static class MediaProbe
{
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    public static bool IsPng(byte[] bytes) => bytes.AsSpan().StartsWith(PngSignature);

    public static PngFacts ReadPng(byte[] bytes)
    {
        Assert.True(IsPng(bytes), "the file does not start with the PNG signature");
        var chunks = new List<string>();
        int? width = null, height = null, frames = null;
        var controls = 0;
        var offset = 8;
        while (offset < bytes.Length)
        {
            Assert.True(offset + 12 <= bytes.Length, $"truncated chunk header at {offset}");
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(offset));
            var type = Encoding.ASCII.GetString(bytes, offset + 4, 4);
            Assert.True(offset + 12 + length <= bytes.Length, $"chunk {type} runs past the end");
            var data = bytes.AsSpan(offset + 8, length);
            var crc = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(offset + 8 + length));
            Assert.Equal(crc, Crc(bytes.AsSpan(offset + 4, 4 + length)));
            switch (type)
            {
                case "IHDR":
                    Assert.Empty(chunks);
                    width = (int)BinaryPrimitives.ReadUInt32BigEndian(data);
                    height = (int)BinaryPrimitives.ReadUInt32BigEndian(data[4..]);
                    break;
                case "acTL":
                    frames = (int)BinaryPrimitives.ReadUInt32BigEndian(data);
                    break;
                case "fcTL":
                    controls++;
                    break;
            }

            chunks.Add(type);
            offset += 12 + length;
            if (type == "IEND")
            {
                break;
            }
        }

        Assert.Equal("IEND", chunks[^1]);
        Assert.NotNull(width);
        return new PngFacts(width!.Value, height!.Value, frames, controls, chunks);
    }

    /// <summary>Decodes a still image (or an animated PNG's default image) with SkiaSharp and returns its pixels as RGBA.</summary>
    public static Pixels Decode(byte[] bytes)
    {
        using var bitmap = SKBitmap.Decode(bytes);
        Assert.True(bitmap is not null, "SkiaSharp cannot decode the file");
        return Rgba(bitmap);
    }

    /// <summary>
    /// Decodes every frame of an animated PNG as the sample writes them (each frame covers the whole canvas): each
    /// frame's image data becomes a PNG of its own, decoded with SkiaSharp.
    /// </summary>
    public static IReadOnlyList<Pixels> DecodeFrames(byte[] apng)
    {
        var facts = ReadPng(apng);
        Assert.NotNull(facts.AnimationFrames);
        byte[]? header = null;
        var frames = new List<List<byte[]>>();
        foreach (var (type, data) in Chunks(apng))
        {
            switch (type)
            {
                case "IHDR":
                    header = data;
                    break;
                case "fcTL":
                    Assert.Equal((uint)facts.Width, BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(4)));
                    Assert.Equal((uint)facts.Height, BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(8)));
                    Assert.Equal(0u, BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(12))); // x and y offsets
                    frames.Add([]);
                    break;
                case "IDAT" when frames.Count > 0:
                    frames[^1].Add(data);
                    break;
                case "fdAT":
                    frames[^1].Add(data[4..]);
                    break;
            }
        }

        Assert.Equal(facts.AnimationFrames, frames.Count);
        return [.. frames.Select(parts =>
        {
            using var png = new MemoryStream();
            png.Write(PngSignature);
            WriteChunk(png, "IHDR", header!);
            foreach (var part in parts)
            {
                WriteChunk(png, "IDAT", part);
            }

            WriteChunk(png, "IEND", []);
            return Decode(png.ToArray());
        })];
    }

    /// <summary>The pixels of a bitmap as opaque RGBA, whatever its own colour type.</summary>
    public static Pixels Rgba(SKBitmap bitmap)
    {
        using var converted = new SKBitmap(new SKImageInfo(bitmap.Width, bitmap.Height, SKColorType.Rgba8888, SKAlphaType.Premul));
        Assert.True(bitmap.CopyTo(converted, SKColorType.Rgba8888), "the bitmap cannot be converted to RGBA");
        return new Pixels(bitmap.Width, bitmap.Height, converted.Bytes);
    }

    private static IEnumerable<(string Type, byte[] Data)> Chunks(byte[] png)
    {
        var offset = 8;
        while (offset + 12 <= png.Length)
        {
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(offset));
            yield return (Encoding.ASCII.GetString(png, offset + 4, 4), png.AsSpan(offset + 8, length).ToArray());
            offset += 12 + length;
        }
    }

    /// <summary>True when the file starts with an ISO base media <c>ftyp</c> box (size, "ftyp", a major brand).</summary>
    public static bool IsMp4(byte[] bytes) =>
        bytes.Length >= 16
        && Encoding.ASCII.GetString(bytes, 4, 4) == "ftyp"
        && BinaryPrimitives.ReadUInt32BigEndian(bytes) is >= 16 and var size && size <= bytes.Length
        && bytes.AsSpan(8, 4).ToArray().All(b => b is >= 0x20 and < 0x7F);

    private static uint Crc(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
            }
        }

        return ~crc;
    }

    /// <summary>A small valid PNG (grey 8-bit, one IDAT) written here, for uploads.</summary>
    public static byte[] TinyPng(int width, int height, byte shade)
    {
        using var raw = new MemoryStream();
        for (var y = 0; y < height; y++)
        {
            raw.WriteByte(0);
            for (var x = 0; x < width; x++)
            {
                raw.WriteByte((byte)(shade + x + y));
            }
        }

        using var deflated = new MemoryStream();
        using (var z = new System.IO.Compression.ZLibStream(deflated, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            raw.Position = 0;
            raw.CopyTo(z);
        }

        using var png = new MemoryStream();
        png.Write(PngSignature);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, (uint)width);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), (uint)height);
        ihdr[8] = 8;
        ihdr[9] = 0;
        WriteChunk(png, "IHDR", ihdr);
        WriteChunk(png, "IDAT", deflated.ToArray());
        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    /// <summary>Writes one PNG chunk: length, type, data and CRC (computed independently of the sample).</summary>
    public static void WriteChunk(Stream output, string type, byte[] data)
    {
        var head = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(head, (uint)data.Length);
        Encoding.ASCII.GetBytes(type, head.AsSpan(4));
        output.Write(head);
        output.Write(data);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc([.. head.AsSpan(4), .. data]));
        output.Write(crc);
    }
}
