namespace VideoPipeline.Media;

/// <summary>Recognises the file kinds the pipeline produces from their first bytes.</summary>
public static class MediaFiles
{
    public static bool IsPng(ReadOnlySpan<byte> bytes) => Apng.IsPng(bytes);

    /// <summary>An ISO base media file (MP4): a box size, then <c>ftyp</c>.</summary>
    public static bool IsMp4(ReadOnlySpan<byte> bytes) => bytes.Length >= 12 && bytes[4..8].SequenceEqual("ftyp"u8);

    /// <summary>A PNG with an <c>acTL</c> chunk before its image data.</summary>
    public static bool IsAnimatedPng(ReadOnlySpan<byte> bytes) => Apng.IsAnimated(bytes);

    /// <summary>The file extension that fits the bytes: <c>.mp4</c>, <c>.apng</c>, <c>.png</c>, <c>.jpg</c>, <c>.webp</c> or <c>.bin</c>.</summary>
    public static string ExtensionFor(ReadOnlySpan<byte> header, string? mediaType) => header switch
    {
        _ when IsMp4(header) => ".mp4",
        _ when IsAnimatedPng(header) => ".apng",
        _ when IsPng(header) => ".png",
        _ => mediaType switch
        {
            "image/jpeg" => ".jpg",
            "image/webp" => ".webp",
            "application/json" => ".json",
            "video/webm" => ".webm",
            "audio/mpeg" => ".mp3",
            "audio/wav" => ".wav",
            _ => ".bin",
        },
    };
}
