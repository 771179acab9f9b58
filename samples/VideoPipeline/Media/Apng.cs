using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using SkiaSharp;

namespace VideoPipeline.Media;

/// <summary>
/// The animated-PNG (APNG) container, which SkiaSharp neither writes nor animates. Frames are encoded and decoded as
/// PNG by SkiaSharp; this class only moves their compressed image data between chunks: signature, IHDR, acTL, then
/// per frame fcTL and IDAT (the first frame, which viewers without APNG show) or fdAT, then IEND.
/// </summary>
public static class Apng
{
    /// <summary>The most frames a file may declare before this reader gives up.</summary>
    public const int MaxFrames = 10_000;

    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>True when <paramref name="bytes"/> start with the PNG signature.</summary>
    public static bool IsPng(ReadOnlySpan<byte> bytes) => bytes.StartsWith(Signature);

    /// <summary>True for a PNG with an <c>acTL</c> chunk before its image data.</summary>
    public static bool IsAnimated(ReadOnlySpan<byte> bytes)
    {
        if (!IsPng(bytes))
        {
            return false;
        }

        var offset = Signature.Length;
        while (offset + 8 <= bytes.Length)
        {
            var length = BinaryPrimitives.ReadUInt32BigEndian(bytes[offset..]);
            var type = bytes.Slice(offset + 4, 4);
            if (type.SequenceEqual("acTL"u8))
            {
                return true;
            }

            if (type.SequenceEqual("IDAT"u8) || length > int.MaxValue - 12)
            {
                return false;
            }

            offset += 12 + (int)length;
        }

        return false;
    }

    /// <summary>Encodes an APNG that loops forever, showing each frame for 1/<paramref name="framesPerSecond"/> s.</summary>
    public static byte[] Encode(IReadOnlyList<SKBitmap> frames, int framesPerSecond)
    {
        ArgumentNullException.ThrowIfNull(frames);
        ArgumentOutOfRangeException.ThrowIfZero(frames.Count);
        ArgumentOutOfRangeException.ThrowIfLessThan(framesPerSecond, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(framesPerSecond, ushort.MaxValue);
        var width = frames[0].Width;
        var height = frames[0].Height;
        if (frames.Any(f => f.Width != width || f.Height != height))
        {
            throw new ArgumentException("Every frame of an animated PNG must have the size of the first.", nameof(frames));
        }

        using var output = new MemoryStream();
        output.Write(Signature);
        byte[]? header = null;
        uint sequence = 0;
        for (var i = 0; i < frames.Count; i++)
        {
            // SkiaSharp writes each frame as a PNG; its IHDR (the same for every frame) and its IDAT data are reused.
            var png = ReadChunks(Images.EncodePng(frames[i]));
            var ihdr = png.Single(c => c.Type == "IHDR").Data;
            if (header is null)
            {
                header = ihdr;
                WriteChunk(output, "IHDR", ihdr);
                var actl = new byte[8];
                BinaryPrimitives.WriteUInt32BigEndian(actl, (uint)frames.Count);
                BinaryPrimitives.WriteUInt32BigEndian(actl.AsSpan(4), 0); // loop forever
                WriteChunk(output, "acTL", actl);
                foreach (var chunk in png.TakeWhile(c => c.Type != "IDAT").Where(c => c.Type != "IHDR"))
                {
                    WriteChunk(output, chunk.Type, chunk.Data); // e.g. sRGB, PLTE: they apply to every frame
                }
            }
            else if (!ihdr.AsSpan().SequenceEqual(header))
            {
                throw new ArgumentException("Every frame must encode with the same PNG header (size, bit depth, colour type).", nameof(frames));
            }

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
            foreach (var data in png.Where(c => c.Type == "IDAT").Select(c => c.Data))
            {
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
        }

        WriteChunk(output, "IEND", []);
        return output.ToArray();
    }

    /// <summary>
    /// Decodes every frame of an APNG as it is shown (frame regions composited on the canvas by their dispose and blend
    /// operations); a still PNG gives one frame.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not a complete, well-formed PNG.</exception>
    public static IReadOnlyList<AnimationFrame> DecodeFrames(byte[] png)
    {
        ArgumentNullException.ThrowIfNull(png);
        if (!IsAnimated(png))
        {
            return [new AnimationFrame(Images.Decode(png), 0)];
        }

        var chunks = ReadChunks(png);
        var ihdr = chunks[0].Type == "IHDR" && chunks[0].Data.Length == 13 ? chunks[0].Data : throw new InvalidDataException("The PNG does not start with a valid IHDR chunk.");
        var canvasWidth = (int)BinaryPrimitives.ReadUInt32BigEndian(ihdr);
        var canvasHeight = (int)BinaryPrimitives.ReadUInt32BigEndian(ihdr.AsSpan(4));
        var shared = chunks.TakeWhile(c => c.Type is not ("IDAT" or "fcTL")).Where(c => c.Type is "PLTE" or "tRNS" or "gAMA" or "sRGB" or "cHRM" or "iCCP" or "sBIT").ToList();

        // Group the image data by frame control.
        var frames = new List<(FrameControl Control, List<byte[]> Data)>();
        foreach (var chunk in chunks)
        {
            switch (chunk.Type)
            {
                case "fcTL":
                    if (frames.Count >= MaxFrames)
                    {
                        throw new InvalidDataException($"The animated PNG has more than {MaxFrames} frames.");
                    }

                    frames.Add((FrameControl.Parse(chunk.Data, canvasWidth, canvasHeight), []));
                    break;
                case "IDAT" when frames.Count > 0:
                    frames[^1].Data.Add(chunk.Data);
                    break;
                case "fdAT" when frames.Count > 0:
                    frames[^1].Data.Add(chunk.Data.Length >= 4 ? chunk.Data[4..] : throw new InvalidDataException("An fdAT chunk is shorter than its sequence number."));
                    break;
            }
        }

        var result = new List<AnimationFrame>(frames.Count);
        using var canvasBitmap = new SKBitmap(new SKImageInfo(canvasWidth, canvasHeight, SKColorType.Rgba8888, SKAlphaType.Premul));
        using var canvas = new SKCanvas(canvasBitmap);
        canvas.Clear(SKColors.Transparent);
        foreach (var (control, data) in frames.Where(f => f.Data.Count > 0))
        {
            // A frame's data is a PNG of its region: the canvas header with the region's size, then its image data.
            using var standalone = new MemoryStream();
            standalone.Write(Signature);
            var header = ihdr.ToArray();
            BinaryPrimitives.WriteUInt32BigEndian(header, (uint)control.Width);
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), (uint)control.Height);
            WriteChunk(standalone, "IHDR", header);
            foreach (var chunk in shared)
            {
                WriteChunk(standalone, chunk.Type, chunk.Data);
            }

            foreach (var part in data)
            {
                WriteChunk(standalone, "IDAT", part);
            }

            WriteChunk(standalone, "IEND", []);
            using var region = DecodeRegion(standalone.ToArray());
            using var before = control.Dispose == 2 ? canvasBitmap.Copy() : null;
            var area = SKRect.Create(control.X, control.Y, control.Width, control.Height);
            using (var paint = new SKPaint { BlendMode = control.Blend == 0 ? SKBlendMode.Src : SKBlendMode.SrcOver })
            {
                canvas.DrawBitmap(region, area.Left, area.Top, default(SKSamplingOptions), paint);
            }

            canvas.Flush();
            result.Add(new AnimationFrame(Images.Flatten(canvasBitmap.Copy()), control.DelaySeconds));
            switch (control.Dispose)
            {
                case 1:
                    using (var clear = new SKPaint { BlendMode = SKBlendMode.Clear })
                    {
                        canvas.DrawRect(area, clear);
                    }

                    break;
                case 2:
                    canvas.Clear(SKColors.Transparent);
                    canvas.DrawBitmap(before!, 0, 0, default(SKSamplingOptions), null);
                    break;
            }
        }

        return result.Count > 0 ? result : throw new InvalidDataException("The animated PNG has no frames with image data.");
    }

    private static SKBitmap DecodeRegion(byte[] png)
    {
        using var data = SKData.CreateCopy(png);
        using var codec = SKCodec.Create(data) ?? throw new InvalidDataException("A frame of the animated PNG is not a valid PNG image.");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        var bitmap = new SKBitmap(info);
        if (codec.GetPixels(info, bitmap.GetPixels()) != SKCodecResult.Success)
        {
            bitmap.Dispose();
            throw new InvalidDataException("A frame of the animated PNG could not be decoded completely.");
        }

        return bitmap;
    }

    /// <summary>The chunks of a PNG up to IEND, every length and CRC checked.</summary>
    private static List<(string Type, byte[] Data)> ReadChunks(byte[] png)
    {
        if (!IsPng(png))
        {
            throw new InvalidDataException("The file does not start with the PNG signature.");
        }

        var chunks = new List<(string, byte[])>();
        var offset = Signature.Length;
        while (true)
        {
            if (offset + 12 > png.Length)
            {
                throw new InvalidDataException("The PNG is truncated: it ends before its IEND chunk.");
            }

            var length = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(offset));
            if (length > png.Length - offset - 12)
            {
                throw new InvalidDataException($"A PNG chunk at byte {offset} runs past the end of the file.");
            }

            var type = Encoding.ASCII.GetString(png, offset + 4, 4);
            var body = png.AsSpan(offset + 4, 4 + (int)length);
            if (Crc32.HashToUInt32(body) != BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(offset + 8 + (int)length)))
            {
                throw new InvalidDataException($"The PNG chunk {type} at byte {offset} fails its CRC check.");
            }

            chunks.Add((type, png.AsSpan(offset + 8, (int)length).ToArray()));
            offset += 12 + (int)length;
            if (type == "IEND")
            {
                return chunks;
            }
        }
    }

    private static void WriteChunk(Stream output, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> head = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(head, (uint)data.Length);
        Encoding.ASCII.GetBytes(type, head[4..]);
        output.Write(head);
        output.Write(data);
        var crc = new Crc32();
        crc.Append(head[4..]);
        crc.Append(data);
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(word, crc.GetCurrentHashAsUInt32());
        output.Write(word);
    }

    private readonly record struct FrameControl(int Width, int Height, int X, int Y, double DelaySeconds, byte Dispose, byte Blend)
    {
        public static FrameControl Parse(byte[] data, int canvasWidth, int canvasHeight)
        {
            if (data.Length != 26)
            {
                throw new InvalidDataException("An fcTL chunk is not 26 bytes long.");
            }

            var width = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(4));
            var height = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(8));
            var x = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(12));
            var y = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(16));
            if (width == 0 || height == 0 || (long)x + width > canvasWidth || (long)y + height > canvasHeight)
            {
                throw new InvalidDataException("A frame of the animated PNG lies outside its canvas.");
            }

            var numerator = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(20));
            var denominator = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(22));
            return new FrameControl((int)width, (int)height, (int)x, (int)y, numerator / (double)(denominator == 0 ? 100 : denominator), data[24], data[25]);
        }
    }
}

/// <summary>A decoded frame of an animation and how long it shows.</summary>
public sealed record AnimationFrame(SKBitmap Image, double DelaySeconds);
