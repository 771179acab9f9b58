using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Checkpointing.Tests.Support;

/// <summary>
/// Small but complete media files built byte by byte from their specifications (PNG with real zlib data and CRCs, a
/// baseline JPEG with Huffman tables and one scan, a lossless WebP, a GIF, ISO base media files with the boxes players
/// need), so the content checks can be tested against whole files and every truncation of them.
/// </summary>
public static class TestMedia
{
    /// <summary>An 8-bit RGB PNG of <paramref name="width"/> x <paramref name="height"/> pixels, filled from <paramref name="seed"/>.</summary>
    public static byte[] Png(int width = 4, int height = 3, byte seed = 7, bool interlaced = false)
    {
        using var raw = new MemoryStream();
        if (!interlaced)
        {
            for (var y = 0; y < height; y++)
            {
                raw.WriteByte(0);
                for (var x = 0; x < width * 3; x++)
                {
                    raw.WriteByte((byte)(seed + x + (y * 7)));
                }
            }
        }
        else
        {
            (int X, int Y, int Dx, int Dy)[] passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];
            foreach (var p in passes)
            {
                var w = (width - p.X + p.Dx - 1) / p.Dx;
                var h = (height - p.Y + p.Dy - 1) / p.Dy;
                if (w <= 0 || h <= 0)
                {
                    continue;
                }

                for (var y = 0; y < h; y++)
                {
                    raw.WriteByte(0);
                    raw.Write(new byte[w * 3]);
                }
            }
        }

        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            zlib.Write(raw.ToArray());
        }

        var header = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)width);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), (uint)height);
        header[8] = 8;
        header[9] = 2;
        header[12] = (byte)(interlaced ? 1 : 0);
        using var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        Chunk(png, "IHDR", header);
        Chunk(png, "tEXt", Encoding.ASCII.GetBytes("Comment\0test image"));
        var data = compressed.ToArray();
        var half = data.Length / 2;
        Chunk(png, "IDAT", data[..half]);
        Chunk(png, "IDAT", data[half..]);
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    /// <summary>Writes a PNG chunk with its CRC (the same table every PNG encoder uses).</summary>
    public static void Chunk(Stream png, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(word, (uint)data.Length);
        png.Write(word);
        var typeBytes = Encoding.ASCII.GetBytes(type);
        png.Write(typeBytes);
        png.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc([.. typeBytes, .. data]));
        png.Write(word);
    }

    /// <summary>
    /// A 16 x 8 grey baseline JPEG: quantisation table, frame header, DC and AC Huffman tables with one code each
    /// (category 0 and end-of-block), and a scan of two blocks that each decode to flat grey.
    /// </summary>
    public static byte[] Jpeg()
    {
        using var jpeg = new MemoryStream();
        jpeg.Write([0xFF, 0xD8]);
        Segment(jpeg, 0xE0, [.. "JFIF\0"u8, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
        Segment(jpeg, 0xDB, [0, .. Enumerable.Repeat((byte)1, 64)]);
        Segment(jpeg, 0xC0, [8, 0, 8, 0, 16, 1, 1, 0x11, 0]);
        Segment(jpeg, 0xC4, [0x00, 1, .. new byte[15], 0]);
        Segment(jpeg, 0xC4, [0x10, 1, .. new byte[15], 0]);
        Segment(jpeg, 0xDA, [1, 1, 0x00, 0, 63, 0]);
        jpeg.Write([0x0F, 0xFF, 0x00]); // bits 0,0 (block 1) 0,0 (block 2), padded with ones; 0xFF stuffed with 0x00
        jpeg.Write([0xFF, 0xD9]);
        return jpeg.ToArray();
    }

    private static void Segment(Stream jpeg, byte marker, byte[] data)
    {
        jpeg.Write([0xFF, marker, (byte)((data.Length + 2) >> 8), (byte)(data.Length + 2)]);
        jpeg.Write(data);
    }

    /// <summary>A 2 x 2 WebP: a RIFF container holding a VP8L chunk (its header, then bytes the structural check does not decode).</summary>
    public static byte[] WebP()
    {
        // VP8L: signature, 14-bit width-1 and height-1, alpha flag, version 0, then the bitstream.
        byte[] vp8l = [0x2F, 0x01, 0x40, 0x00, 0x00, 0x07, 0x10, 0x11, 0x88, 0x88, 0x08];
        return Riff([Chunk4("VP8L", vp8l)]);
    }

    /// <summary>An extended WebP: a VP8X header (canvas 2 x 2), then a VP8 key frame.</summary>
    public static byte[] WebPExtended()
    {
        byte[] vp8x = [0, 0, 0, 0, 1, 0, 0, 1, 0, 0];
        var frame = new byte[20];
        var partition = 4;
        var tag = (partition << 5) | 0x10; // key frame (bit 0 = 0), version 0, show frame
        frame[0] = (byte)tag;
        frame[1] = (byte)(tag >> 8);
        frame[2] = (byte)(tag >> 16);
        frame[3] = 0x9D;
        frame[4] = 0x01;
        frame[5] = 0x2A;
        BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(6), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(8), 2);
        return Riff([Chunk4("VP8X", vp8x), Chunk4("VP8 ", frame)]);
    }

    private static byte[] Chunk4(string fourcc, byte[] data)
    {
        var chunk = new List<byte>(Encoding.ASCII.GetBytes(fourcc));
        chunk.AddRange(BitConverter.GetBytes((uint)data.Length));
        chunk.AddRange(data);
        if (data.Length % 2 == 1)
        {
            chunk.Add(0);
        }

        return [.. chunk];
    }

    private static byte[] Riff(byte[][] chunks)
    {
        var body = chunks.SelectMany(c => c).ToArray();
        return [.. "RIFF"u8, .. BitConverter.GetBytes((uint)(body.Length + 4)), .. "WEBP"u8, .. body];
    }

    /// <summary>A 1 x 1 GIF89a with a two-colour table and one image.</summary>
    public static byte[] Gif() =>
    [
        .. "GIF89a"u8, 1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 255, 255, 255,
        0x21, 0xF9, 4, 0, 0, 0, 0, 0,
        0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0,
        0x3B,
    ];

    /// <summary>An MP4 (or, with brand <c>qt  </c>, a QuickTime movie): ftyp, moov with mvhd and one trak, then mdat.</summary>
    public static byte[] IsoVideo(string majorBrand = "isom", params string[] compatible)
    {
        var ftyp = Box("ftyp", [.. Encoding.ASCII.GetBytes(majorBrand), 0, 0, 2, 0, .. compatible.SelectMany(Encoding.ASCII.GetBytes)]);
        var mvhd = Box("mvhd", new byte[100]);
        var tkhd = Box("tkhd", new byte[84]);
        var trak = Box("trak", tkhd);
        var moov = Box("moov", [.. mvhd, .. trak]);
        var mdat = Box("mdat", Encoding.ASCII.GetBytes("media data of the test video"));
        return [.. ftyp, .. moov, .. mdat];
    }

    /// <summary>A HEIF image (HEIC or AVIF by brand): ftyp, then meta with hdlr, pitm and iprp/ipco/ispe (width x height), then mdat.</summary>
    public static byte[] IsoImage(string majorBrand, int width = 64, int height = 48, params string[] compatible)
    {
        var ftyp = Box("ftyp", [.. Encoding.ASCII.GetBytes(majorBrand), 0, 0, 0, 0, .. compatible.SelectMany(Encoding.ASCII.GetBytes)]);
        var hdlr = Box("hdlr", [0, 0, 0, 0, 0, 0, 0, 0, .. "pict"u8, .. new byte[13]]);
        var pitm = Box("pitm", [0, 0, 0, 0, 0, 1]);
        var extents = new byte[12];
        BinaryPrimitives.WriteUInt32BigEndian(extents.AsSpan(4), (uint)width);
        BinaryPrimitives.WriteUInt32BigEndian(extents.AsSpan(8), (uint)height);
        var ipco = Box("ipco", Box("ispe", extents));
        var iprp = Box("iprp", ipco);
        var meta = Box("meta", [0, 0, 0, 0, .. hdlr, .. pitm, .. iprp]);
        var mdat = Box("mdat", new byte[32]);
        return [.. ftyp, .. meta, .. mdat];
    }

    /// <summary>A WebM: EBML header (doc type webm), then a segment with Info, Tracks (one VP8 track) and a cluster with one block.</summary>
    /// <param name="live">Write the segment and the cluster with unknown sizes, as a live recorder does.</param>
    /// <param name="docType">The EBML document type.</param>
    public static byte[] WebM(bool live = false, string docType = "webm")
    {
        var header = Ebml(0x1A45DFA3, [.. Ebml(0x4286, [1]), .. Ebml(0x4282, Encoding.ASCII.GetBytes(docType))]);
        var info = Ebml(0x1549A966, Ebml(0x2AD7B1, [0x0F, 0x42, 0x40]));
        var tracks = Ebml(0x1654AE6B, Ebml(0xAE, [.. Ebml(0xD7, [1]), .. Ebml(0x86, "V_VP8"u8.ToArray())]));
        byte[] clusterBody = [.. Ebml(0xE7, [0]), .. Ebml(0xA3, [0x81, 0, 0, 0x80, .. "a vp8 frame"u8])];
        byte[] unknown = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        if (live)
        {
            return [.. header, .. Id(0x18538067), .. unknown, .. info, .. tracks, .. Id(0x1F43B675), .. unknown, .. clusterBody];
        }

        return [.. header, .. Ebml(0x18538067, [.. info, .. tracks, .. Ebml(0x1F43B675, clusterBody)])];
    }

    /// <summary>An MP3: an ID3v2.4 tag (when asked), then MPEG-1 layer III frames at 128 kbit/s and 44.1 kHz, then an ID3v1 tag (when asked).</summary>
    public static byte[] Mp3(int frames = 1, bool id3v2 = true, bool id3v1 = false)
    {
        var bytes = new List<byte>();
        if (id3v2)
        {
            bytes.AddRange([.. "ID3"u8, 4, 0, 0, 0, 0, 0, 10, .. new byte[10]]);
        }

        for (var i = 0; i < frames; i++)
        {
            var frame = new byte[417]; // 144 * 128000 / 44100
            frame[0] = 0xFF;
            frame[1] = 0xFB;
            frame[2] = 0x90;
            frame[3] = 0x44;
            frame[100] = (byte)i;
            bytes.AddRange(frame);
        }

        if (id3v1)
        {
            bytes.AddRange([.. "TAG"u8, .. new byte[125]]);
        }

        return [.. bytes];
    }

    /// <summary>A WAV: RIFF/WAVE with a PCM 'fmt ' chunk (mono, 8 kHz, 16 bit), an odd-sized LIST chunk with its pad byte, and 4 sample frames of data.</summary>
    public static byte[] Wav()
    {
        var fmt = new byte[16];
        BinaryPrimitives.WriteUInt16LittleEndian(fmt, 1);
        BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(2), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(fmt.AsSpan(4), 8000);
        BinaryPrimitives.WriteUInt32LittleEndian(fmt.AsSpan(8), 16000);
        BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(12), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(14), 16);
        byte[] body = [.. "WAVE"u8, .. RiffChunk("fmt ", fmt), .. RiffChunk("LIST", [1, 2, 3]), .. RiffChunk("data", [1, 0, 2, 0, 3, 0, 4, 0])];
        return RiffChunk("RIFF", body);
    }

    /// <summary>A RIFF chunk: id, little-endian size, body, and a pad byte when the size is odd.</summary>
    public static byte[] RiffChunk(string id, byte[] body)
    {
        var chunk = new byte[8 + body.Length + (body.Length & 1)];
        Encoding.ASCII.GetBytes(id).CopyTo(chunk, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(chunk.AsSpan(4), (uint)body.Length);
        body.CopyTo(chunk, 8);
        return chunk;
    }

    private static byte[] Ebml(uint id, byte[] body)
    {
        byte[] size = body.Length < 0x7F ? [(byte)(0x80 | body.Length)] : [(byte)(0x40 | (body.Length >> 8)), (byte)body.Length];
        return [.. Id(id), .. size, .. body];
    }

    private static byte[] Id(uint id) =>
        id > 0xFFFFFF ? [(byte)(id >> 24), (byte)(id >> 16), (byte)(id >> 8), (byte)id]
        : id > 0xFFFF ? [(byte)(id >> 16), (byte)(id >> 8), (byte)id]
        : id > 0xFF ? [(byte)(id >> 8), (byte)id]
        : [(byte)id];

    private static byte[] Box(string type, byte[] body)
    {
        var box = new byte[8 + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(box, (uint)box.Length);
        Encoding.ASCII.GetBytes(type).CopyTo(box, 4);
        body.CopyTo(box, 8);
        return box;
    }

    private static uint Crc(byte[] data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
            }
        }

        return ~crc;
    }
}
