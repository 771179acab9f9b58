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
        using var stream = new PrefixedLimitedStream(header, length, content, maxBytes, artifactType);
        return await blobs.PutAsync(stream, type, ct).ConfigureAwait(false);
    }
}

/// <summary>A read-only stream of some already-read header bytes followed by the rest of an inner stream, with a size limit.</summary>
internal sealed class PrefixedLimitedStream(byte[] header, int headerLength, Stream inner, long maxBytes, string artifactType) : Stream
{
    private int _headerPosition;
    private long _total;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _total; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int read;
        if (_headerPosition < headerLength)
        {
            read = Math.Min(buffer.Length, headerLength - _headerPosition);
            header.AsSpan(_headerPosition, read).CopyTo(buffer);
            _headerPosition += read;
        }
        else
        {
            read = inner.Read(buffer);
        }

        return Count(read);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_headerPosition < headerLength)
        {
            return Read(buffer.Span);
        }

        return Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private int Count(int read)
    {
        _total += read;
        if (_total > maxBytes)
        {
            throw new ContentTooLargeException(artifactType, maxBytes);
        }

        return read;
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
