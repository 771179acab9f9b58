using System.Buffers.Binary;
using System.IO.Compression;

namespace Checkpointing;

/// <summary>
/// Structural checks of media content, beyond its signature: a PNG's chunks, CRCs, header and complete image data; a
/// JPEG's markers, frame header and scan up to its end; a WebP's RIFF sizes and VP8 / VP8L / VP8X header; a GIF's
/// blocks up to its trailer; and an ISO base media file's (MP4, QuickTime, HEIC, AVIF) box structure with the boxes its
/// type needs; and the WebM, MP3 and WAV containers (<c>MediaChecks.Containers.cs</c>). Content that was cut short, or
/// whose sizes do not add up, is refused.
/// </summary>
public static partial class MediaChecks
{
    /// <summary>The largest image, in pixels, whose PNG data is inflated to check it (larger ones are refused).</summary>
    public const long MaxCheckedPixels = 100_000_000;

    /// <summary>Tells whether <see cref="FindProblem"/> checks the structure of <paramref name="mediaType"/> (other types pass on their signature).</summary>
    /// <param name="mediaType">The media type.</param>
    public static bool CanCheck(string mediaType) =>
        mediaType is MediaTypes.Png or MediaTypes.Jpeg or MediaTypes.WebP or MediaTypes.Gif
            or MediaTypes.Mp4 or MediaTypes.QuickTime or MediaTypes.Heic or MediaTypes.Heif or MediaTypes.Avif
            or MediaTypes.WebM or MediaTypes.Mp3 or MediaTypes.Wav;

    /// <summary>
    /// Checks that <paramref name="content"/> is a complete, well-formed file of <paramref name="mediaType"/>. Reads the
    /// stream from its current position to its end.
    /// </summary>
    /// <param name="content">The content; must be seekable.</param>
    /// <param name="mediaType">The media type detected from its signature (<see cref="MediaTypes.Detect"/>).</param>
    /// <returns>Null when the content is well-formed (or its type is not checked); otherwise what is wrong.</returns>
    public static string? FindProblem(Stream content, string mediaType)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(mediaType);
        if (!content.CanSeek)
        {
            throw new ArgumentException("The content must be seekable to check it.", nameof(content));
        }

        var reader = new Reader(content);
        try
        {
            return mediaType switch
            {
                MediaTypes.Png => Png(reader),
                MediaTypes.Jpeg => Jpeg(reader),
                MediaTypes.WebP => WebP(reader),
                MediaTypes.Gif => Gif(reader),
                MediaTypes.Mp4 or MediaTypes.QuickTime => IsoMedia(reader, video: true),
                MediaTypes.Heic or MediaTypes.Heif or MediaTypes.Avif => IsoMedia(reader, video: false),
                MediaTypes.WebM => WebM(reader),
                MediaTypes.Mp3 => Mp3(reader),
                MediaTypes.Wav => Wav(reader),
                _ => null,
            };
        }
        catch (EndOfStreamException)
        {
            return "the file ends too early (it was cut short)";
        }
    }

    private static string? Png(Reader r)
    {
        if (!r.Bytes(8).AsSpan().SequenceEqual((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        {
            return "the PNG signature is missing";
        }

        long width = 0, height = 0;
        int bitDepth = 0, colorType = 0, interlace = 0;
        var sawHeader = false;
        var sawPalette = false;
        var sawEnd = false;
        var idatState = 0; // 0 none yet, 1 in IDAT run, 2 after the run
        using var compressed = new MemoryStream();
        while (!sawEnd)
        {
            var length = r.UInt32BigEndian();
            if (length > int.MaxValue)
            {
                return "a PNG chunk length is out of range";
            }

            var typeBytes = r.Bytes(4);
            var type = System.Text.Encoding.ASCII.GetString(typeBytes);
            if (!typeBytes.All(b => char.IsAsciiLetter((char)b)))
            {
                return "a PNG chunk type is not made of letters";
            }

            if (length > r.Remaining - 4)
            {
                return $"the PNG chunk '{type}' is longer than the rest of the file (it was cut short)";
            }

            var data = r.Bytes((int)length);
            var crc = r.UInt32BigEndian();
            if (crc != Crc32.Append(Crc32.Append(0, typeBytes), data))
            {
                return $"the CRC of the PNG chunk '{type}' does not match (the file is damaged)";
            }

            if (!sawHeader && type != "IHDR")
            {
                return "the PNG does not start with its IHDR header";
            }

            switch (type)
            {
                case "IHDR":
                    if (sawHeader || length != 13)
                    {
                        return "the PNG IHDR header is malformed";
                    }

                    sawHeader = true;
                    width = BinaryPrimitives.ReadUInt32BigEndian(data);
                    height = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(4));
                    bitDepth = data[8];
                    colorType = data[9];
                    interlace = data[12];
                    if (width is 0 or > int.MaxValue || height is 0 or > int.MaxValue)
                    {
                        return $"the PNG dimensions {width}x{height} are invalid";
                    }

                    var depthOk = colorType switch
                    {
                        0 => bitDepth is 1 or 2 or 4 or 8 or 16,
                        3 => bitDepth is 1 or 2 or 4 or 8,
                        2 or 4 or 6 => bitDepth is 8 or 16,
                        _ => false,
                    };
                    if (!depthOk || data[10] != 0 || data[11] != 0 || interlace > 1)
                    {
                        return "the PNG IHDR header names an unknown colour type, bit depth, compression, filter or interlace method";
                    }

                    if (width * height > MaxCheckedPixels)
                    {
                        return $"the PNG is {width}x{height}, more than the {MaxCheckedPixels} pixels that are checked";
                    }

                    break;
                case "PLTE":
                    sawPalette = true;
                    break;
                case "IDAT":
                    if (idatState == 2)
                    {
                        return "the PNG image data (IDAT) is split by other chunks";
                    }

                    idatState = 1;
                    compressed.Write(data);
                    break;
                case "IEND":
                    sawEnd = true;
                    break;
                default:
                    if (idatState == 1)
                    {
                        idatState = 2;
                    }

                    if ((typeBytes[0] & 0x20) == 0)
                    {
                        return $"the PNG has an unknown critical chunk '{type}'";
                    }

                    break;
            }
        }

        if (r.Remaining != 0)
        {
            return "the PNG has data after its IEND chunk";
        }

        if (idatState == 0)
        {
            return "the PNG has no image data (IDAT)";
        }

        if (colorType == 3 && !sawPalette)
        {
            return "the PNG uses a palette but has no PLTE chunk";
        }

        var channels = colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };
        var expected = interlace == 0
            ? RawSize(width, height, channels * bitDepth)
            : Adam7.Sum(p => RawSize((width - p.X + p.Dx - 1) / p.Dx, (height - p.Y + p.Dy - 1) / p.Dy, channels * bitDepth));
        compressed.Position = 0;
        long inflated;
        try
        {
            using var zlib = new ZLibStream(compressed, CompressionMode.Decompress);
            var buffer = new byte[81920];
            inflated = 0;
            int read;
            while ((read = zlib.Read(buffer)) > 0)
            {
                inflated += read;
                if (inflated > expected)
                {
                    return "the PNG image data inflates to more than its dimensions need";
                }
            }
        }
        catch (InvalidDataException)
        {
            return "the PNG image data is not valid compressed data (the file is damaged or cut short)";
        }

        return inflated == expected ? null : $"the PNG image data inflates to {inflated} bytes, not the {expected} its {width}x{height} pixels need (the file is damaged or cut short)";
    }

    private static readonly (int X, int Y, int Dx, int Dy)[] Adam7 =
        [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];

    private static long RawSize(long width, long height, int bitsPerPixel) =>
        width <= 0 || height <= 0 ? 0 : height * (1 + ((width * bitsPerPixel) + 7) / 8);

    private static string? Jpeg(Reader r)
    {
        if (r.Byte() != 0xFF || r.Byte() != 0xD8)
        {
            return "the JPEG start-of-image marker is missing";
        }

        var sawFrame = false;
        var sawScan = false;
        while (true)
        {
            if (r.Byte() != 0xFF)
            {
                return "a JPEG marker is expected but other data was found (the file is damaged)";
            }

            int marker;
            do
            {
                marker = r.Byte();
            }
            while (marker == 0xFF);

            if (marker == 0xD9)
            {
                break;
            }

            if (marker is 0x01 or (>= 0xD0 and <= 0xD7))
            {
                continue;
            }

            if (marker is 0x00 or 0xD8)
            {
                return "the JPEG has an unexpected marker";
            }

            var length = r.UInt16BigEndian();
            if (length < 2)
            {
                return "a JPEG segment length is invalid";
            }

            var data = r.Bytes(length - 2);
            var isFrame = marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC;
            if (isFrame)
            {
                if (sawFrame || data.Length < 6)
                {
                    return "the JPEG frame header is malformed";
                }

                sawFrame = true;
                var height = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(1));
                var width = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(3));
                var components = data[5];
                if (width == 0 || height == 0)
                {
                    return $"the JPEG dimensions {width}x{height} are invalid";
                }

                if (components is 0 or > 4 || data.Length != 6 + (3 * components))
                {
                    return "the JPEG frame header names an invalid number of components";
                }
            }
            else if (marker == 0xDA)
            {
                if (!sawFrame)
                {
                    return "the JPEG scan comes before its frame header";
                }

                if (data.Length < 1 || data[0] is 0 or > 4 || data.Length != 4 + (2 * data[0]))
                {
                    return "the JPEG scan header is malformed";
                }

                sawScan = true;
                SkipEntropyData(r);
            }
        }

        if (!sawFrame)
        {
            return "the JPEG has no frame header (SOF)";
        }

        return sawScan ? null : "the JPEG has no image scan (SOS)";
    }

    /// <summary>Skips entropy-coded data up to (not including) the next marker other than RSTn and stuffed zeros.</summary>
    private static void SkipEntropyData(Reader r)
    {
        while (true)
        {
            if (r.Byte() != 0xFF)
            {
                continue;
            }

            int next;
            do
            {
                next = r.Byte();
            }
            while (next == 0xFF);

            if (next == 0x00 || next is >= 0xD0 and <= 0xD7)
            {
                continue;
            }

            r.Back(2);
            return;
        }
    }

    private static string? WebP(Reader r)
    {
        var head = r.Bytes(12);
        if (!head.AsSpan(0, 4).SequenceEqual("RIFF"u8) || !head.AsSpan(8, 4).SequenceEqual("WEBP"u8))
        {
            return "the WebP RIFF header is missing";
        }

        var riffSize = BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(4));
        if (riffSize + 8L != r.Length)
        {
            return $"the WebP RIFF size says {riffSize + 8L} bytes but the file has {r.Length} (it was cut short or has extra data)";
        }

        var first = true;
        var extended = false;
        var animated = false;
        var sawImage = false;
        while (r.Remaining > 0)
        {
            var fourcc = System.Text.Encoding.ASCII.GetString(r.Bytes(4));
            var size = r.UInt32LittleEndian();
            if (size > r.Remaining)
            {
                return $"the WebP chunk '{fourcc}' is longer than the rest of the file";
            }

            var data = r.Bytes((int)size);
            if ((size & 1) == 1 && r.Remaining > 0)
            {
                r.Byte();
            }

            switch (fourcc)
            {
                case "VP8 ":
                    if (!first && !extended)
                    {
                        return "the WebP has more than one image chunk";
                    }

                    if (data.Length < 10 || (data[0] & 1) != 0 || data[3] != 0x9D || data[4] != 0x01 || data[5] != 0x2A)
                    {
                        return "the WebP VP8 key frame header is malformed";
                    }

                    var partition = (data[0] | (data[1] << 8) | (data[2] << 16)) >> 5;
                    if (partition > data.Length - 10 || (BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(6)) & 0x3FFF) == 0
                        || (BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(8)) & 0x3FFF) == 0)
                    {
                        return "the WebP VP8 frame has invalid dimensions or partition size";
                    }

                    sawImage = true;
                    break;
                case "VP8L":
                    if (!first && !extended)
                    {
                        return "the WebP has more than one image chunk";
                    }

                    if (data.Length < 5 || data[0] != 0x2F || (data[4] >> 5) != 0)
                    {
                        return "the WebP VP8L header is malformed";
                    }

                    sawImage = true;
                    break;
                case "VP8X":
                    if (!first || data.Length < 10)
                    {
                        return "the WebP VP8X header is malformed or not first";
                    }

                    extended = true;
                    animated = (data[0] & 0x02) != 0;
                    break;
                case "ANMF":
                    if (!animated)
                    {
                        return "the WebP has an animation frame but is not marked animated";
                    }

                    sawImage = true;
                    break;
                default:
                    if (first)
                    {
                        return $"the WebP starts with an unknown chunk '{fourcc}'";
                    }

                    break;
            }

            first = false;
        }

        return sawImage ? null : "the WebP has no image data";
    }

    private static string? Gif(Reader r)
    {
        var header = r.Bytes(6);
        if (!header.AsSpan().SequenceEqual("GIF87a"u8) && !header.AsSpan().SequenceEqual("GIF89a"u8))
        {
            return "the GIF header is missing";
        }

        var width = r.UInt16LittleEndian();
        var height = r.UInt16LittleEndian();
        var flags = r.Byte();
        r.Bytes(2);
        if (width == 0 || height == 0)
        {
            return $"the GIF dimensions {width}x{height} are invalid";
        }

        if ((flags & 0x80) != 0)
        {
            r.Bytes(3 << ((flags & 7) + 1));
        }

        var frames = 0;
        while (true)
        {
            switch (r.Byte())
            {
                case 0x3B:
                    return frames == 0 ? "the GIF has no image" : null;
                case 0x21:
                    r.Byte();
                    SkipSubBlocks(r);
                    break;
                case 0x2C:
                    r.Bytes(8);
                    var local = r.Byte();
                    if ((local & 0x80) != 0)
                    {
                        r.Bytes(3 << ((local & 7) + 1));
                    }

                    if (r.Byte() is < 2 or > 8)
                    {
                        return "the GIF image has an invalid LZW code size";
                    }

                    SkipSubBlocks(r);
                    frames++;
                    break;
                default:
                    return "the GIF has an unknown block (the file is damaged)";
            }
        }
    }

    private static void SkipSubBlocks(Reader r)
    {
        int size;
        while ((size = r.Byte()) != 0)
        {
            r.Bytes(size);
        }
    }

    private static string? IsoMedia(Reader r, bool video)
    {
        var boxes = Boxes(r, r.Position, r.Length, out var problem);
        if (problem is not null)
        {
            return problem;
        }

        if (boxes.Count == 0 || boxes[0].Type != "ftyp" || boxes[0].Size < 16 || (boxes[0].Size - 16) % 4 != 0)
        {
            return "the file does not start with a well-formed 'ftyp' box";
        }

        if (video)
        {
            var moov = boxes.FirstOrDefault(b => b.Type == "moov");
            if (moov is null)
            {
                return "the video has no 'moov' box (its index is missing; the file may be cut short)";
            }

            if (!boxes.Any(b => b.Type == "mdat"))
            {
                return "the video has no 'mdat' box (no media data)";
            }

            var children = Boxes(r, moov.Body, moov.End, out problem);
            if (problem is not null)
            {
                return "inside 'moov', " + problem;
            }

            if (!children.Any(b => b.Type == "mvhd") || !children.Any(b => b.Type == "trak"))
            {
                return "the video's 'moov' box has no 'mvhd' header or no 'trak' track";
            }

            return null;
        }

        var meta = boxes.FirstOrDefault(b => b.Type == "meta");
        if (meta is null)
        {
            return "the image has no 'meta' box";
        }

        var items = Boxes(r, meta.Body + 4, meta.End, out problem);
        if (problem is not null)
        {
            return "inside 'meta', " + problem;
        }

        if (!boxes.Any(b => b.Type == "mdat") && !items.Any(b => b.Type == "idat"))
        {
            return "the image has no coded data ('mdat' or 'idat'; the file may be cut short)";
        }

        var iprp = items.FirstOrDefault(b => b.Type == "iprp");
        var ipco = iprp is null ? null : Boxes(r, iprp.Body, iprp.End, out problem).FirstOrDefault(b => b.Type == "ipco");
        if (problem is not null || ipco is null)
        {
            return "the image has no item properties ('iprp'/'ipco')";
        }

        var ispe = Boxes(r, ipco.Body, ipco.End, out problem).FirstOrDefault(b => b.Type == "ispe");
        if (problem is not null || ispe is null || ispe.End - ispe.Body < 12)
        {
            return "the image has no spatial extents ('ispe')";
        }

        r.Seek(ispe.Body + 4);
        var width = r.UInt32BigEndian();
        var height = r.UInt32BigEndian();
        return width == 0 || height == 0 ? $"the image dimensions {width}x{height} are invalid" : null;
    }

    private sealed record Box(string Type, long Start, long Body, long End)
    {
        public long Size => End - Start;
    }

    private static List<Box> Boxes(Reader r, long start, long end, out string? problem)
    {
        var boxes = new List<Box>();
        problem = null;
        var position = start;
        while (position < end)
        {
            if (end - position < 8)
            {
                problem = "a box header is cut short";
                return boxes;
            }

            r.Seek(position);
            long size = r.UInt32BigEndian();
            var typeBytes = r.Bytes(4);
            var type = System.Text.Encoding.Latin1.GetString(typeBytes);
            var header = 8L;
            if (size == 1)
            {
                if (end - position < 16)
                {
                    problem = $"the '{type}' box header is cut short";
                    return boxes;
                }

                var large = r.UInt64BigEndian();
                if (large > long.MaxValue)
                {
                    problem = $"the '{type}' box size is out of range";
                    return boxes;
                }

                size = (long)large;
                header = 16;
            }
            else if (size == 0)
            {
                size = end - position;
            }

            if (!typeBytes.All(b => b is >= 0x20 and <= 0x7E or 0xA9))
            {
                problem = "a box type is not readable text (the file is damaged)";
                return boxes;
            }

            if (size < header || size > end - position)
            {
                problem = $"the '{type}' box says it is {size} bytes but {end - position} remain (the file was cut short or is damaged)";
                return boxes;
            }

            boxes.Add(new Box(type, position, position + header, position + size));
            position += size;
        }

        return boxes;
    }

    /// <summary>Reads big- and little-endian values from a seekable stream; throws <see cref="EndOfStreamException"/> at the end.</summary>
    private sealed class Reader(Stream stream)
    {
        private readonly long _origin = stream.Position;

        public long Length => stream.Length - _origin;

        public long Position => stream.Position - _origin;

        public long Remaining => stream.Length - stream.Position;

        public void Seek(long position) => stream.Position = _origin + position;

        public void Back(int count) => stream.Position -= count;

        public byte Byte()
        {
            var b = stream.ReadByte();
            return b < 0 ? throw new EndOfStreamException() : (byte)b;
        }

        public byte[] Bytes(int count)
        {
            if (count > Remaining)
            {
                throw new EndOfStreamException();
            }

            var bytes = new byte[count];
            stream.ReadExactly(bytes);
            return bytes;
        }

        public ushort UInt16BigEndian() => BinaryPrimitives.ReadUInt16BigEndian(Bytes(2));

        public ushort UInt16LittleEndian() => BinaryPrimitives.ReadUInt16LittleEndian(Bytes(2));

        public uint UInt32BigEndian() => BinaryPrimitives.ReadUInt32BigEndian(Bytes(4));

        public uint UInt32LittleEndian() => BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4));

        public ulong UInt64BigEndian() => BinaryPrimitives.ReadUInt64BigEndian(Bytes(8));
    }
}

/// <summary>CRC-32 (ISO 3309, as PNG uses it).</summary>
internal static class Crc32
{
    private static readonly uint[] Table = Build();

    /// <summary>Continues a CRC over more bytes (start with 0).</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        crc = ~crc;
        foreach (var b in data)
        {
            crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return ~crc;
    }

    private static uint[] Build()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            }

            table[n] = c;
        }

        return table;
    }
}
