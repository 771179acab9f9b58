using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace VideoPipeline.Media;

/// <summary>
/// Decodes PNG and animated PNG (APNG) into RGB frames: colour types grey, truecolour, palette, grey+alpha and
/// truecolour+alpha at the bit depths PNG allows, the five scanline filters, and APNG frame regions, blending and
/// disposal. Transparent pixels are composited on black. Interlaced images are refused with a clear message.
/// </summary>
public static class PngReader
{
    /// <summary>Reads only the header: size and, for an APNG, the number of frames.</summary>
    public static PngInfo ReadInfo(ReadOnlySpan<byte> png)
    {
        var chunks = ReadChunks(png, stopAfterFirstData: true);
        var header = Header.Parse(chunks);
        var actl = chunks.FirstOrDefault(c => c.Type == "acTL");
        var frames = actl is null ? 1 : (int)BinaryPrimitives.ReadUInt32BigEndian(actl.Data);
        return new PngInfo(header.Width, header.Height, actl is not null, frames);
    }

    /// <summary>Decodes the default image (the first frame of an APNG whose IDAT is part of the animation).</summary>
    public static RgbImage Decode(ReadOnlySpan<byte> png)
    {
        var chunks = ReadChunks(png, stopAfterFirstData: false);
        var header = Header.Parse(chunks);
        var data = Concat(chunks.Where(c => c.Type == "IDAT").Select(c => c.Data));
        var rgba = Unfilter(header, header.Width, header.Height, Inflate(data));
        return Flatten(rgba, header.Width, header.Height);
    }

    /// <summary>Decodes every frame of an APNG as the full canvas it shows (a still PNG gives one frame).</summary>
    public static IReadOnlyList<AnimationFrame> DecodeFrames(ReadOnlySpan<byte> png)
    {
        var chunks = ReadChunks(png, stopAfterFirstData: false);
        var header = Header.Parse(chunks);
        if (!chunks.Any(c => c.Type == "acTL"))
        {
            return [new AnimationFrame(Decode(png), 0)];
        }

        var width = header.Width;
        var height = header.Height;
        var canvas = new byte[width * height * 4];
        var frames = new List<AnimationFrame>();
        FrameControl? control = null;
        var data = new List<byte[]>();

        void Flush()
        {
            if (control is null)
            {
                data.Clear();
                return;
            }

            var region = Unfilter(header, control.Width, control.Height, Inflate(Concat(data)));
            var before = control.Dispose == 2 ? (byte[])canvas.Clone() : null;
            Compose(canvas, width, region, control);
            frames.Add(new AnimationFrame(Flatten(canvas, width, height), control.DelaySeconds));
            if (control.Dispose == 1)
            {
                ClearRegion(canvas, width, control);
            }
            else if (before is not null)
            {
                before.CopyTo(canvas, 0);
            }

            data.Clear();
            control = null;
        }

        foreach (var chunk in chunks)
        {
            switch (chunk.Type)
            {
                case "fcTL":
                    Flush();
                    control = FrameControl.Parse(chunk.Data, width, height);
                    break;
                case "IDAT":
                    // The default image is a frame only when an fcTL precedes it.
                    if (control is not null)
                    {
                        data.Add(chunk.Data);
                    }

                    break;
                case "fdAT":
                    data.Add(chunk.Data[4..]);
                    break;
            }
        }

        Flush();
        return frames;
    }

    private static List<Chunk> ReadChunks(ReadOnlySpan<byte> png, bool stopAfterFirstData)
    {
        if (png.Length < 8 || !png[..8].SequenceEqual(PngWriter.Signature))
        {
            throw new InvalidDataException("Not a PNG: the file does not start with the PNG signature.");
        }

        var chunks = new List<Chunk>();
        var offset = 8;
        while (offset + 12 <= png.Length)
        {
            var length = BinaryPrimitives.ReadUInt32BigEndian(png[offset..]);
            if (length > int.MaxValue || offset + 12 + (long)length > png.Length)
            {
                throw new InvalidDataException($"Truncated PNG: a chunk at byte {offset} runs past the end of the file.");
            }

            var type = Encoding.ASCII.GetString(png.Slice(offset + 4, 4));
            var data = png.Slice(offset + 8, (int)length);
            var crc = BinaryPrimitives.ReadUInt32BigEndian(png[(offset + 8 + (int)length)..]);
            if (crc != Crc32.Append(Crc32.Compute(png.Slice(offset + 4, 4)), data))
            {
                throw new InvalidDataException($"Corrupt PNG: the CRC of the '{type}' chunk at byte {offset} does not match.");
            }

            chunks.Add(new Chunk(type, data.ToArray()));
            offset += 12 + (int)length;
            if (type == "IEND" || (stopAfterFirstData && type == "IDAT"))
            {
                break;
            }
        }

        return chunks;
    }

    private static byte[] Concat(IEnumerable<byte[]> parts)
    {
        using var all = new MemoryStream();
        foreach (var part in parts)
        {
            all.Write(part);
        }

        return all.ToArray();
    }

    private static byte[] Inflate(byte[] data)
    {
        using var input = new MemoryStream(data);
        using var zlib = new ZLibStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        zlib.CopyTo(output);
        return output.ToArray();
    }

    /// <summary>Reverses the scanline filters and expands every pixel to RGBA8.</summary>
    private static byte[] Unfilter(Header header, int width, int height, byte[] raw)
    {
        var channels = header.ColorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => 0 };
        var bitsPerPixel = channels * header.BitDepth;
        var stride = ((width * bitsPerPixel) + 7) / 8;
        var bpp = Math.Max(1, bitsPerPixel / 8);
        if (raw.Length < (stride + 1) * height)
        {
            throw new InvalidDataException("Corrupt PNG: the image data is shorter than its size says.");
        }

        var current = new byte[stride];
        var previous = new byte[stride];
        var rgba = new byte[width * height * 4];
        for (var y = 0; y < height; y++)
        {
            var offset = y * (stride + 1);
            var filter = raw[offset];
            for (var i = 0; i < stride; i++)
            {
                int a = i >= bpp ? current[i - bpp] : 0;
                int b = previous[i];
                int c = i >= bpp ? previous[i - bpp] : 0;
                var predictor = filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => PngWriter.Paeth(a, b, c),
                    _ => throw new InvalidDataException($"Corrupt PNG: unknown scanline filter {filter}."),
                };
                current[i] = (byte)(raw[offset + 1 + i] + predictor);
            }

            for (var x = 0; x < width; x++)
            {
                var (r, g, bl, al) = ReadPixel(header, current, x);
                var o = ((y * width) + x) * 4;
                rgba[o] = r;
                rgba[o + 1] = g;
                rgba[o + 2] = bl;
                rgba[o + 3] = al;
            }

            (current, previous) = (previous, current);
        }

        return rgba;
    }

    private static (byte R, byte G, byte B, byte A) ReadPixel(Header header, byte[] row, int x)
    {
        var depth = header.BitDepth;
        byte Sample(int index)
        {
            if (depth == 8)
            {
                return row[index];
            }

            if (depth == 16)
            {
                return row[index * 2];
            }

            var perByte = 8 / depth;
            var shift = 8 - (((index % perByte) + 1) * depth);
            var value = (row[index / perByte] >> shift) & ((1 << depth) - 1);
            return header.ColorType == 3 ? (byte)value : (byte)(value * 255 / ((1 << depth) - 1));
        }

        switch (header.ColorType)
        {
            case 0:
                var grey = Sample(x);
                return (grey, grey, grey, 255);
            case 2:
                return (Sample(x * 3), Sample((x * 3) + 1), Sample((x * 3) + 2), 255);
            case 3:
                var index = Sample(x);
                if (index * 3 + 2 >= header.Palette.Length)
                {
                    throw new InvalidDataException($"Corrupt PNG: palette index {index} is outside the palette.");
                }

                var alpha = index < header.Transparency.Length ? header.Transparency[index] : (byte)255;
                return (header.Palette[index * 3], header.Palette[(index * 3) + 1], header.Palette[(index * 3) + 2], alpha);
            case 4:
                var g = Sample(x * 2);
                return (g, g, g, Sample((x * 2) + 1));
            default:
                return (Sample(x * 4), Sample((x * 4) + 1), Sample((x * 4) + 2), Sample((x * 4) + 3));
        }
    }

    private static void Compose(byte[] canvas, int canvasWidth, byte[] region, FrameControl control)
    {
        for (var y = 0; y < control.Height; y++)
        {
            for (var x = 0; x < control.Width; x++)
            {
                var s = ((y * control.Width) + x) * 4;
                var d = (((control.Y + y) * canvasWidth) + control.X + x) * 4;
                var alpha = region[s + 3];
                if (control.Blend == 0 || alpha == 255)
                {
                    Array.Copy(region, s, canvas, d, 4);
                }
                else if (alpha > 0)
                {
                    for (var k = 0; k < 3; k++)
                    {
                        canvas[d + k] = (byte)(((region[s + k] * alpha) + (canvas[d + k] * (255 - alpha))) / 255);
                    }

                    canvas[d + 3] = (byte)Math.Max(canvas[d + 3], alpha);
                }
            }
        }
    }

    private static void ClearRegion(byte[] canvas, int canvasWidth, FrameControl control)
    {
        for (var y = 0; y < control.Height; y++)
        {
            Array.Clear(canvas, (((control.Y + y) * canvasWidth) + control.X) * 4, control.Width * 4);
        }
    }

    private static RgbImage Flatten(byte[] rgba, int width, int height)
    {
        var image = new RgbImage(width, height);
        for (var i = 0; i < width * height; i++)
        {
            var alpha = rgba[(i * 4) + 3];
            for (var k = 0; k < 3; k++)
            {
                image.Pixels[(i * 3) + k] = (byte)(rgba[(i * 4) + k] * alpha / 255);
            }
        }

        return image;
    }

    private sealed record Chunk(string Type, byte[] Data);

    private sealed record Header(int Width, int Height, int BitDepth, int ColorType, byte[] Palette, byte[] Transparency)
    {
        public static Header Parse(List<Chunk> chunks)
        {
            var ihdr = chunks.FirstOrDefault();
            if (ihdr is null || ihdr.Type != "IHDR" || ihdr.Data.Length != 13)
            {
                throw new InvalidDataException("Corrupt PNG: the first chunk is not a 13-byte IHDR.");
            }

            var width = (int)BinaryPrimitives.ReadUInt32BigEndian(ihdr.Data);
            var height = (int)BinaryPrimitives.ReadUInt32BigEndian(ihdr.Data.AsSpan(4));
            int depth = ihdr.Data[8];
            int colorType = ihdr.Data[9];
            var valid = colorType switch
            {
                0 => depth is 1 or 2 or 4 or 8 or 16,
                3 => depth is 1 or 2 or 4 or 8,
                2 or 4 or 6 => depth is 8 or 16,
                _ => false,
            };
            if (!valid || width <= 0 || height <= 0 || (long)width * height > 64L * 1024 * 1024)
            {
                throw new InvalidDataException($"Unsupported PNG: {width}x{height}, colour type {colorType}, bit depth {depth}.");
            }

            if (ihdr.Data[12] != 0)
            {
                throw new InvalidDataException("Unsupported PNG: interlaced (Adam7) images are not decoded; save it without interlacing.");
            }

            var palette = chunks.FirstOrDefault(c => c.Type == "PLTE")?.Data ?? [];
            if (colorType == 3 && palette.Length == 0)
            {
                throw new InvalidDataException("Corrupt PNG: a palette image without a PLTE chunk.");
            }

            var transparency = colorType == 3 ? chunks.FirstOrDefault(c => c.Type == "tRNS")?.Data ?? [] : [];
            return new Header(width, height, depth, colorType, palette, transparency);
        }
    }

    private sealed record FrameControl(int Width, int Height, int X, int Y, double DelaySeconds, byte Dispose, byte Blend)
    {
        public static FrameControl Parse(byte[] data, int canvasWidth, int canvasHeight)
        {
            if (data.Length != 26)
            {
                throw new InvalidDataException("Corrupt APNG: an fcTL chunk is not 26 bytes.");
            }

            var span = data.AsSpan();
            var width = (int)BinaryPrimitives.ReadUInt32BigEndian(span[4..]);
            var height = (int)BinaryPrimitives.ReadUInt32BigEndian(span[8..]);
            var x = (int)BinaryPrimitives.ReadUInt32BigEndian(span[12..]);
            var y = (int)BinaryPrimitives.ReadUInt32BigEndian(span[16..]);
            if (width <= 0 || height <= 0 || x < 0 || y < 0 || x + width > canvasWidth || y + height > canvasHeight)
            {
                throw new InvalidDataException("Corrupt APNG: a frame lies outside the canvas.");
            }

            int numerator = BinaryPrimitives.ReadUInt16BigEndian(span[20..]);
            int denominator = BinaryPrimitives.ReadUInt16BigEndian(span[22..]);
            return new FrameControl(width, height, x, y, numerator / (double)(denominator == 0 ? 100 : denominator), data[24], data[25]);
        }
    }
}

/// <summary>The size of a PNG and whether it is animated.</summary>
public sealed record PngInfo(int Width, int Height, bool IsAnimated, int FrameCount);

/// <summary>One frame of an animation: the full canvas and how long it shows.</summary>
public sealed record AnimationFrame(RgbImage Image, double DelaySeconds);
