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
    /// <summary><c>video/quicktime</c> (an ISO base media file of brand <c>qt  </c>).</summary>
    public const string QuickTime = "video/quicktime";
    /// <summary><c>image/heic</c> (HEIF with HEVC images: brands <c>heic</c>, <c>heix</c>, <c>heim</c>, <c>heis</c>, <c>hevc</c>, <c>hevx</c>).</summary>
    public const string Heic = "image/heic";
    /// <summary><c>image/heif</c> (HEIF of brand <c>mif1</c> or <c>msf1</c> without a more specific one).</summary>
    public const string Heif = "image/heif";
    /// <summary><c>image/avif</c> (brands <c>avif</c>, <c>avis</c>).</summary>
    public const string Avif = "image/avif";
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

    /// <summary>How many leading bytes <see cref="Detect"/> needs at most (an ISO base media file's brands included).</summary>
    public const int SniffLength = 64;

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

        // ISO base media: a box size, then 'ftyp' at offset 4, the major brand, a version, then compatible brands.
        if (header.Length >= 12 && header[4..8].SequenceEqual("ftyp"u8))
        {
            return IsoMediaType(header);
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

    /// <summary>The media type of an ISO base media file from its <c>ftyp</c> brands: the major brand first, then the compatible ones.</summary>
    private static string? IsoMediaType(ReadOnlySpan<byte> header)
    {
        var size = (int)Math.Min(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header), (uint)header.Length);
        if (BrandType(header[8..12]) is { } major)
        {
            return major;
        }

        var generic = false;
        string? found = null;
        for (var at = 16; at + 4 <= size; at += 4)
        {
            var brand = header.Slice(at, 4);
            generic |= brand.SequenceEqual("mif1"u8) || brand.SequenceEqual("msf1"u8);
            found ??= BrandType(brand);
            if (found is Avif or Heic)
            {
                return found;
            }
        }

        return header[8..12].SequenceEqual("mif1"u8) || header[8..12].SequenceEqual("msf1"u8) || (generic && found is null) ? Heif : found;
    }

    private static string? BrandType(ReadOnlySpan<byte> brand) => System.Text.Encoding.ASCII.GetString(brand) switch
    {
        "avif" or "avis" => Avif,
        "heic" or "heix" or "heim" or "heis" or "hevc" or "hevx" => Heic,
        "qt  " => QuickTime,
        "isom" or "iso2" or "iso3" or "iso4" or "iso5" or "iso6" or "iso7" or "iso8" or "iso9" or "mp41" or "mp42" or "avc1"
            or "dash" or "M4V " or "M4VH" or "M4VP" or "mmp4" or "msnv" or "f4v " or "3gp4" or "3gp5" or "3gp6" or "3g2a" => Mp4,
        _ => null,
    };
}
