using System.Buffers.Binary;
using System.IO.Compression;

namespace VideoPipeline.Media;

/// <summary>
/// Encodes RGB images as PNG, and frame sequences as animated PNG (APNG): signature, IHDR, [acTL], then per frame
/// [fcTL] and IDAT (first frame) or fdAT (later frames), IEND. Scanlines use a per-row filter (None, Sub, Up or
/// Paeth, whichever has the smallest sum of absolute values), compressed with zlib.
/// </summary>
public static class PngWriter
{
    public static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Encodes a still PNG.</summary>
    public static byte[] Encode(RgbImage image)
    {
        using var output = new MemoryStream();
        output.Write(Signature);
        WriteHeader(output, image.Width, image.Height);
        WriteChunk(output, "IDAT", Compress(image));
        WriteChunk(output, "IEND", []);
        return output.ToArray();
    }

    /// <summary>Encodes an APNG that loops forever, showing each frame for 1/<paramref name="framesPerSecond"/> s. Its default image is the first frame.</summary>
    public static byte[] EncodeAnimated(IReadOnlyList<RgbImage> frames, int framesPerSecond)
    {
        ArgumentOutOfRangeException.ThrowIfZero(frames.Count);
        ArgumentOutOfRangeException.ThrowIfLessThan(framesPerSecond, 1);
        var width = frames[0].Width;
        var height = frames[0].Height;
        if (frames.Any(f => f.Width != width || f.Height != height))
        {
            throw new ArgumentException("Every frame of an animated PNG must have the size of the first.", nameof(frames));
        }

        using var output = new MemoryStream();
        output.Write(Signature);
        WriteHeader(output, width, height);
        var actl = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(actl, (uint)frames.Count);
        BinaryPrimitives.WriteUInt32BigEndian(actl.AsSpan(4), 0); // loop forever
        WriteChunk(output, "acTL", actl);

        uint sequence = 0;
        for (var i = 0; i < frames.Count; i++)
        {
            var fctl = new byte[26];
            BinaryPrimitives.WriteUInt32BigEndian(fctl, sequence++);
            BinaryPrimitives.WriteUInt32BigEndian(fctl.AsSpan(4), (uint)width);
            BinaryPrimitives.WriteUInt32BigEndian(fctl.AsSpan(8), (uint)height);
            // x and y offsets stay 0: every frame covers the whole canvas.
            BinaryPrimitives.WriteUInt16BigEndian(fctl.AsSpan(20), 1);
            BinaryPrimitives.WriteUInt16BigEndian(fctl.AsSpan(22), (ushort)framesPerSecond);
            fctl[24] = 0; // dispose: none
            fctl[25] = 0; // blend: source
            WriteChunk(output, "fcTL", fctl);

            var data = Compress(frames[i]);
            if (i == 0)
            {
                WriteChunk(output, "IDAT", data);
            }
            else
            {
                var fdat = new byte[data.Length + 4];
                BinaryPrimitives.WriteUInt32BigEndian(fdat, sequence++);
                data.CopyTo(fdat, 4);
                WriteChunk(output, "fdAT", fdat);
            }
        }

        WriteChunk(output, "IEND", []);
        return output.ToArray();
    }

    private static void WriteHeader(Stream output, int width, int height)
    {
        var ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, (uint)width);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), (uint)height);
        ihdr[8] = 8;  // bit depth
        ihdr[9] = 2;  // colour type: truecolour
        ihdr[10] = 0; // compression: deflate
        ihdr[11] = 0; // filter method 0
        ihdr[12] = 0; // no interlace
        WriteChunk(output, "IHDR", ihdr);
    }

    private static void WriteChunk(Stream output, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(word, (uint)data.Length);
        output.Write(word);
        Span<byte> typeBytes = stackalloc byte[4];
        for (var i = 0; i < 4; i++)
        {
            typeBytes[i] = (byte)type[i];
        }

        output.Write(typeBytes);
        output.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32.Append(Crc32.Compute(typeBytes), data));
        output.Write(word);
    }

    private static byte[] Compress(RgbImage image)
    {
        var stride = image.Width * 3;
        var filtered = new byte[(stride + 1) * image.Height];
        var candidate = new byte[stride];
        var best = new byte[stride];
        for (var y = 0; y < image.Height; y++)
        {
            var row = image.Pixels.AsSpan(y * stride, stride);
            var previous = y == 0 ? Span<byte>.Empty : image.Pixels.AsSpan((y - 1) * stride, stride);
            var bestScore = long.MaxValue;
            byte bestFilter = 0;
            for (byte filter = 0; filter <= 4; filter++)
            {
                if (filter == 3)
                {
                    continue; // Average is rarely the best on these images; skipping it keeps encoding fast.
                }

                long score = 0;
                for (var i = 0; i < stride; i++)
                {
                    var a = i >= 3 ? row[i - 3] : 0;
                    var b = previous.IsEmpty ? 0 : previous[i];
                    var c = i >= 3 && !previous.IsEmpty ? previous[i - 3] : 0;
                    var predictor = filter switch
                    {
                        0 => 0,
                        1 => a,
                        2 => b,
                        _ => Paeth(a, b, c),
                    };
                    var value = (byte)(row[i] - predictor);
                    candidate[i] = value;
                    score += value < 128 ? value : 256 - value;
                }

                if (score < bestScore)
                {
                    bestScore = score;
                    bestFilter = filter;
                    candidate.CopyTo(best, 0);
                }
            }

            var offset = y * (stride + 1);
            filtered[offset] = bestFilter;
            best.CopyTo(filtered, offset + 1);
        }

        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            zlib.Write(filtered);
        }

        return compressed.ToArray();
    }

    internal static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        var pa = Math.Abs(p - a);
        var pb = Math.Abs(p - b);
        var pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
