namespace Checkpointing.Internal;

/// <summary>Detects media types from content and enforces size limits while streaming into the blob store.</summary>
internal static class ContentInspector
{
    /// <summary>Reads the first bytes of <paramref name="content"/> to detect its media type.</summary>
    public static async Task<(byte[] Header, int Length, string? MediaType)> SniffAsync(Stream content, CancellationToken ct)
    {
        var header = new byte[MediaTypes.SniffLength];
        var length = await content.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false);
        return (header, length, MediaTypes.Detect(header.AsSpan(0, length)));
    }

    /// <summary>
    /// Stores <paramref name="content"/>, naming it with the detected media type (else <paramref name="fallbackMediaType"/>
    /// or octet-stream). Throws <see cref="ContentTooLargeException"/> past <paramref name="maxBytes"/>; nothing becomes visible then.
    /// </summary>
    public static async Task<BlobReference> PutDetectedAsync(IBlobStore blobs, Stream content, string? mediaType, long maxBytes, string? fallbackMediaType, CancellationToken ct, string artifactType = "blob")
    {
        var (header, length, detected) = await SniffAsync(content, ct).ConfigureAwait(false);
        var type = mediaType ?? detected ?? fallbackMediaType ?? MediaTypes.OctetStream;
        using var stream = Limited(header, length, content, maxBytes, artifactType);
        return await blobs.PutAsync(stream, type, ct).ConfigureAwait(false);
    }

    /// <summary>The sniffed header, then the rest of the content; reading past <paramref name="maxBytes"/> throws <see cref="ContentTooLargeException"/>.</summary>
    public static PrefixedStream Limited(byte[] header, int length, Stream rest, long maxBytes, string artifactType) =>
        new(header.AsMemory(0, length), rest, maxBytes, () => new ContentTooLargeException(artifactType, maxBytes));

    /// <summary>
    /// Copies an upload (its sniffed header, then the rest) into a temporary file, within <paramref name="maxBytes"/>,
    /// and checks its structure as <paramref name="mediaType"/> (<see cref="MediaChecks"/>). Returns the file positioned
    /// at its start; it is deleted when disposed.
    /// </summary>
    public static async Task<FileStream> BufferCheckedAsync(byte[] header, int length, Stream rest, long maxBytes, string artifactType, string mediaType, CancellationToken ct)
    {
        var path = Path.Combine(Path.GetTempPath(), "checkpointing-upload-" + Guid.NewGuid().ToString("N"));
        var file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 81920, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
        try
        {
            using (var limited = Limited(header, length, rest, maxBytes, artifactType))
            {
                await limited.CopyToAsync(file, ct).ConfigureAwait(false);
            }

            file.Position = 0;
            if (MediaChecks.FindProblem(file, mediaType) is { } problem)
            {
                throw new InvalidContentException(artifactType, mediaType, problem);
            }

            file.Position = 0;
            return file;
        }
        catch
        {
            await file.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
