namespace Checkpointing;

/// <summary>Media types the SDK recognises from content, and detection by magic bytes.</summary>
public static class MediaTypes
{
    /// <summary><c>image/png</c>.</summary>
    public const string Png = "image/png";
    /// <summary><c>image/jpeg</c>.</summary>
    public const string Jpeg = "image/jpeg";
    /// <summary><c>image/webp</c>.</summary>
    public const string WebP = "image/webp";
    /// <summary><c>image/gif</c>.</summary>
    public const string Gif = "image/gif";
    /// <summary><c>video/mp4</c>.</summary>
    public const string Mp4 = "video/mp4";
    /// <summary><c>video/webm</c>.</summary>
    public const string WebM = "video/webm";
    /// <summary><c>audio/mpeg</c>.</summary>
    public const string Mp3 = "audio/mpeg";
    /// <summary><c>audio/wav</c>.</summary>
    public const string Wav = "audio/wav";
    /// <summary><c>application/json</c>.</summary>
    public const string Json = "application/json";
    /// <summary><c>application/octet-stream</c>, for bytes of unknown type.</summary>
    public const string OctetStream = "application/octet-stream";

    private static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>How many leading bytes <see cref="Detect"/> needs at most.</summary>
    public const int SniffLength = 16;

    /// <summary>Detects the media type from the leading bytes of some content.</summary>
    /// <param name="header">At least the first <see cref="SniffLength"/> bytes, when the content is that long.</param>
    /// <returns>The media type, or null when the bytes match no known signature.</returns>
    public static string? Detect(ReadOnlySpan<byte> header)
    {
        if (header.StartsWith(PngSignature))
        {
            return Png;
        }

        if (header.Length >= 3 && header[0] == 0xFF && header[1] == 0xD8 && header[2] == 0xFF)
        {
            return Jpeg;
        }

        if (header.Length >= 12 && header.StartsWith("RIFF"u8))
        {
            if (header[8..12].SequenceEqual("WEBP"u8))
            {
                return WebP;
            }

            if (header[8..12].SequenceEqual("WAVE"u8))
            {
                return Wav;
            }
        }

        if (header.StartsWith("GIF87a"u8) || header.StartsWith("GIF89a"u8))
        {
            return Gif;
        }

        // ISO base media: a box size, then 'ftyp' at offset 4.
        if (header.Length >= 12 && header[4..8].SequenceEqual("ftyp"u8))
        {
            return Mp4;
        }

        if (header.Length >= 4 && header[0] == 0x1A && header[1] == 0x45 && header[2] == 0xDF && header[3] == 0xA3)
        {
            return WebM;
        }

        if (header.StartsWith("ID3"u8) || (header.Length >= 2 && header[0] == 0xFF && (header[1] & 0xE0) == 0xE0))
        {
            return Mp3;
        }

        return null;
    }
}
