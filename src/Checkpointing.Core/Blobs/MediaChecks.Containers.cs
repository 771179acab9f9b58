namespace Checkpointing;

/// <summary>
/// Structural checks of the audio and streaming-video containers: WebM (EBML elements whose sizes add up, the
/// <c>webm</c> document type, a segment with its info, tracks and at least one block), MP3 (an optional ID3v2 tag, then
/// MPEG audio frames back to back, each with a valid header and complete, an optional ID3v1 tag at the end) and WAV (a
/// RIFF size that matches the file, chunk sizes that add up, a <c>fmt </c> chunk before the <c>data</c> chunk, and a
/// format whose rates and block alignment agree).
/// </summary>
public static partial class MediaChecks
{
    private const uint EbmlHeaderId = 0x1A45DFA3;
    private const uint EbmlDocTypeId = 0x4282;
    private const uint SegmentId = 0x18538067;
    private const uint InfoId = 0x1549A966;
    private const uint TracksId = 0x1654AE6B;
    private const uint TrackEntryId = 0xAE;
    private const uint ClusterId = 0x1F43B675;
    private const uint SimpleBlockId = 0xA3;
    private const uint BlockGroupId = 0xA0;
    private const uint VoidId = 0xEC;

    /// <summary>The elements that may follow one another directly in a segment (they end a cluster of unknown size).</summary>
    private static readonly HashSet<uint> SegmentChildren =
        [0x114D9B74, InfoId, TracksId, ClusterId, 0x1C53BB6B, 0x1043A770, 0x1254C367, 0x1941A469, VoidId, 0xBF];

    private static string? WebM(Reader r)
    {
        var header = EbmlElement(r, out var problem);
        if (header is null || header.Value.Id != EbmlHeaderId || header.Value.Size is null)
        {
            return problem ?? "the WebM does not start with an EBML header";
        }

        string? docType = null;
        foreach (var child in EbmlChildren(r, header.Value.Body, header.Value.Body + header.Value.Size.Value, null, out problem))
        {
            if (child.Id == EbmlDocTypeId && child.Size is { } size && size <= 64)
            {
                r.Seek(child.Body);
                docType = System.Text.Encoding.ASCII.GetString(r.Bytes((int)size)).TrimEnd('\0');
            }
        }

        if (problem is not null)
        {
            return problem;
        }

        if (docType != "webm")
        {
            return docType is null ? "the EBML header names no document type" : $"the EBML document type is '{docType}', not 'webm'";
        }

        r.Seek(header.Value.Body + header.Value.Size.Value);
        var segment = EbmlElement(r, out problem);
        if (segment is null || segment.Value.Id != SegmentId)
        {
            return problem ?? "the WebM has no segment after its EBML header";
        }

        var end = segment.Value.Size is { } segmentSize ? segment.Value.Body + segmentSize : r.Length;
        var children = EbmlChildren(r, segment.Value.Body, end, SegmentChildren, out problem);
        if (problem is not null)
        {
            return problem;
        }

        if (!children.Any(c => c.Id == InfoId))
        {
            return "the WebM segment has no Info element";
        }

        var tracks = children.FirstOrDefault(c => c.Id == TracksId);
        if (tracks.Id == 0 || !EbmlChildren(r, tracks.Body, tracks.End, null, out problem).Any(c => c.Id == TrackEntryId))
        {
            return problem ?? "the WebM segment has no track";
        }

        var blocks = 0;
        foreach (var cluster in children.Where(c => c.Id == ClusterId))
        {
            blocks += EbmlChildren(r, cluster.Body, cluster.End, SegmentChildren, out problem).Count(c => c.Id is SimpleBlockId or BlockGroupId);
            if (problem is not null)
            {
                return problem;
            }
        }

        if (blocks == 0)
        {
            return "the WebM holds no frames (no cluster with a block)";
        }

        // Only padding may follow the segment.
        r.Seek(end);
        while (r.Remaining > 0)
        {
            var trailing = EbmlElement(r, out problem);
            if (trailing is not { Id: VoidId, Size: { } voidSize } || voidSize > r.Remaining)
            {
                return problem ?? "bytes follow the end of the WebM segment";
            }

            r.Seek(trailing.Value.Body + voidSize);
        }

        return null;
    }

    private readonly record struct EbmlNode(uint Id, long Body, long? Size, long End);

    /// <summary>Reads an element's id and size at the reader's position; null (with a problem) when they are malformed.</summary>
    private static EbmlNode? EbmlElement(Reader r, out string? problem)
    {
        problem = null;
        var first = r.Byte();
        var idLength = System.Numerics.BitOperations.LeadingZeroCount((uint)first) - 23;
        if (first == 0 || idLength > 4)
        {
            problem = "an EBML element id is malformed";
            return null;
        }

        uint id = first;
        for (var i = 1; i < idLength; i++)
        {
            id = (id << 8) | r.Byte();
        }

        var sizeFirst = r.Byte();
        var sizeLength = System.Numerics.BitOperations.LeadingZeroCount((uint)sizeFirst) - 23;
        if (sizeFirst == 0)
        {
            problem = "an EBML element size is malformed";
            return null;
        }

        var mask = (1UL << (7 * sizeLength)) - 1;
        var value = (ulong)(sizeFirst & (0xFF >> sizeLength));
        for (var i = 1; i < sizeLength; i++)
        {
            value = (value << 8) | r.Byte();
        }

        var body = r.Position;
        if (value == mask)
        {
            return new EbmlNode(id, body, null, r.Length);
        }

        if (value > (ulong)r.Remaining)
        {
            problem = $"the EBML element 0x{id:X} is longer than the rest of the file (it was cut short)";
            return null;
        }

        return new EbmlNode(id, body, (long)value, body + (long)value);
    }

    /// <summary>
    /// The elements from <paramref name="start"/> to <paramref name="end"/>, each complete. An element of unknown size
    /// (a live-written cluster) ends where the next of <paramref name="siblings"/> starts, or at the end.
    /// </summary>
    private static List<EbmlNode> EbmlChildren(Reader r, long start, long end, HashSet<uint>? siblings, out string? problem)
    {
        problem = null;
        var nodes = new List<EbmlNode>();
        var position = start;
        while (position < end)
        {
            r.Seek(position);
            var node = EbmlElement(r, out problem);
            if (node is null)
            {
                return nodes;
            }

            if (node.Value.Size is null)
            {
                if (siblings is null)
                {
                    problem = $"the EBML element 0x{node.Value.Id:X} has an unknown size where one is needed";
                    return nodes;
                }

                // Its children run until the next sibling-level element; they must be complete too.
                var childEnd = node.Value.Body;
                while (childEnd < end)
                {
                    r.Seek(childEnd);
                    var child = EbmlElement(r, out problem);
                    if (child is null)
                    {
                        return nodes;
                    }

                    if (siblings.Contains(child.Value.Id))
                    {
                        break;
                    }

                    if (child.Value.Size is null || child.Value.End > end)
                    {
                        problem = $"the EBML element 0x{child.Value.Id:X} does not fit in its parent";
                        return nodes;
                    }

                    childEnd = child.Value.End;
                }

                node = node.Value with { End = childEnd };
            }
            else if (node.Value.End > end)
            {
                problem = $"the EBML element 0x{node.Value.Id:X} is longer than its parent (it was cut short)";
                return nodes;
            }

            nodes.Add(node.Value);
            position = node.Value.End;
        }

        return nodes;
    }

    // Bitrates in kbit/s by bitrate index 1..14: MPEG-1 layers I, II, III, then MPEG-2/2.5 layer I, then layers II and III.
    private static readonly int[][] Mp3Bitrates =
    [
        [32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
        [32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
        [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
        [32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
        [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    ];

    private static string? Mp3(Reader r)
    {
        if (r.Length >= 3 && r.Bytes(3).AsSpan().SequenceEqual("ID3"u8))
        {
            var version = r.Byte();
            r.Byte(); // revision
            var flags = r.Byte();
            var sizeBytes = r.Bytes(4);
            if (version is < 2 or > 4 || sizeBytes.Any(b => b >= 0x80))
            {
                return "the ID3v2 tag header is malformed";
            }

            var size = (sizeBytes[0] << 21) | (sizeBytes[1] << 14) | (sizeBytes[2] << 7) | sizeBytes[3];
            var tagEnd = 10L + size + ((flags & 0x10) != 0 ? 10 : 0);
            if (tagEnd > r.Length)
            {
                return "the ID3v2 tag is longer than the file (it was cut short)";
            }

            r.Seek(tagEnd);
        }
        else
        {
            r.Seek(0);
        }

        var frames = 0;
        while (r.Remaining > 0)
        {
            var at = r.Position;
            if (r.Remaining == 128 && frames > 0 && r.Bytes(3).AsSpan().SequenceEqual("TAG"u8))
            {
                break; // an ID3v1 tag ends the file
            }

            r.Seek(at);
            var header = r.Bytes(4);
            if (header[0] != 0xFF || (header[1] & 0xE0) != 0xE0)
            {
                return frames == 0 ? "the MP3 has no MPEG audio frame" : $"the MP3 loses its frame sync at byte {at} (damaged or cut short)";
            }

            var versionBits = (header[1] >> 3) & 3; // 0 MPEG-2.5, 2 MPEG-2, 3 MPEG-1
            var layerBits = (header[1] >> 1) & 3;   // 1 layer III, 2 layer II, 3 layer I
            var bitrateIndex = header[2] >> 4;
            var rateIndex = (header[2] >> 2) & 3;
            var padding = (header[2] >> 1) & 1;
            if (versionBits == 1 || layerBits == 0 || bitrateIndex is 0 or 15 || rateIndex == 3)
            {
                return $"the MP3 frame header at byte {at} is malformed (or uses a free bitrate, which is not checked)";
            }

            var layer = 4 - layerBits;
            var mpeg1 = versionBits == 3;
            var table = mpeg1 ? layer - 1 : layer == 1 ? 3 : 4;
            var bitrate = Mp3Bitrates[table][bitrateIndex - 1] * 1000;
            var sampleRate = (rateIndex switch { 0 => 44100, 1 => 48000, _ => 32000 }) >> (mpeg1 ? 0 : versionBits == 2 ? 1 : 2);
            var length = layer == 1
                ? ((12 * bitrate / sampleRate) + padding) * 4
                : ((layer == 3 && !mpeg1 ? 72 : 144) * bitrate / sampleRate) + padding;
            if (length - 4 > r.Remaining)
            {
                return $"the MP3 frame at byte {at} is longer than the rest of the file (it was cut short)";
            }

            r.Seek(at + length);
            frames++;
        }

        return frames == 0 ? "the MP3 has no MPEG audio frame" : null;
    }

    private static string? Wav(Reader r)
    {
        if (!r.Bytes(4).AsSpan().SequenceEqual("RIFF"u8))
        {
            return "the WAV does not start with a RIFF header";
        }

        var riffSize = r.UInt32LittleEndian();
        if (!r.Bytes(4).AsSpan().SequenceEqual("WAVE"u8))
        {
            return "the RIFF file is not of form WAVE";
        }

        if (riffSize + 8L > r.Length)
        {
            return "the WAV is shorter than its RIFF header says (it was cut short)";
        }

        if (riffSize + 8L < r.Length)
        {
            return "bytes follow the end of the WAV's RIFF chunk";
        }

        int channels = 0, blockAlign = 0;
        var sawFormat = false;
        var sawData = false;
        while (r.Remaining > 0)
        {
            var id = System.Text.Encoding.ASCII.GetString(r.Bytes(4));
            var size = r.UInt32LittleEndian();
            if (size > r.Remaining)
            {
                return $"the WAV chunk '{id}' is longer than the rest of the file (it was cut short)";
            }

            var body = r.Position;
            switch (id)
            {
                case "fmt ":
                    if (sawFormat || size < 16)
                    {
                        return "the WAV 'fmt ' chunk is malformed";
                    }

                    var format = r.UInt16LittleEndian();
                    channels = r.UInt16LittleEndian();
                    var sampleRate = r.UInt32LittleEndian();
                    var byteRate = r.UInt32LittleEndian();
                    blockAlign = r.UInt16LittleEndian();
                    var bits = r.UInt16LittleEndian();
                    if (channels == 0 || sampleRate == 0 || blockAlign == 0)
                    {
                        return "the WAV format names no channels, sample rate or block alignment";
                    }

                    if (format is 1 or 3 && (bits == 0 || blockAlign != channels * ((bits + 7) / 8) || byteRate != sampleRate * (uint)blockAlign))
                    {
                        return "the WAV format's block alignment and byte rate do not agree with its channels, sample rate and bits";
                    }

                    sawFormat = true;
                    break;
                case "data":
                    if (!sawFormat)
                    {
                        return "the WAV 'data' chunk comes before its 'fmt ' chunk";
                    }

                    if (size % (uint)blockAlign != 0)
                    {
                        return "the WAV 'data' chunk does not hold a whole number of sample frames";
                    }

                    sawData = true;
                    break;
            }

            var next = body + size + (size & 1);
            if (next > r.Length)
            {
                return $"the WAV chunk '{id}' misses its padding byte (it was cut short)";
            }

            r.Seek(next);
        }

        return !sawFormat ? "the WAV has no 'fmt ' chunk" : !sawData ? "the WAV has no 'data' chunk" : null;
    }
}
