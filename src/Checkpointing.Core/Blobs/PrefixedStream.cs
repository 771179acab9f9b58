namespace Checkpointing;

/// <summary>
/// A forward-only, read-only stream of some bytes already read from a stream (to sniff a media type, or to decide
/// between a single upload and a multipart one) followed by the rest of that stream. Blob stores and backends use it to
/// stream content they have peeked at without buffering it whole. Disposing it leaves the rest stream open.
/// </summary>
public sealed class PrefixedStream : Stream
{
    private readonly ReadOnlyMemory<byte> _prefix;
    private readonly Stream _rest;
    private readonly long _maxLength;
    private readonly Func<Exception>? _tooLong;
    private int _prefixPosition;
    private long _position;

    /// <summary>Creates the stream.</summary>
    /// <param name="prefix">The bytes already read from <paramref name="rest"/>.</param>
    /// <param name="rest">The stream the prefix was read from, positioned right after it; not disposed.</param>
    public PrefixedStream(ReadOnlyMemory<byte> prefix, Stream rest)
        : this(prefix, rest, long.MaxValue, null)
    {
    }

    /// <summary>Creates the stream with a size limit: reading past <paramref name="maxLength"/> bytes throws <paramref name="tooLong"/>'s exception.</summary>
    internal PrefixedStream(ReadOnlyMemory<byte> prefix, Stream rest, long maxLength, Func<Exception>? tooLong)
    {
        ArgumentNullException.ThrowIfNull(rest);
        _prefix = prefix;
        _rest = rest;
        _maxLength = maxLength;
        _tooLong = tooLong;
    }

    /// <inheritdoc />
    public override bool CanRead => true;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override bool CanWrite => false;

    /// <inheritdoc />
    public override long Length => throw new NotSupportedException();

    /// <summary>How many bytes were read so far; setting it is not supported.</summary>
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc />
    public override int Read(Span<byte> buffer) =>
        Count(_prefixPosition < _prefix.Length ? ReadPrefix(buffer) : _rest.Read(buffer));

    /// <inheritdoc />
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(_prefixPosition < _prefix.Length ? ReadPrefix(buffer.Span) : await _rest.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

    /// <inheritdoc />
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc />
    public override void Flush()
    {
    }

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private int ReadPrefix(Span<byte> buffer)
    {
        var n = Math.Min(buffer.Length, _prefix.Length - _prefixPosition);
        _prefix.Span.Slice(_prefixPosition, n).CopyTo(buffer);
        _prefixPosition += n;
        return n;
    }

    private int Count(int read)
    {
        _position += read;
        if (_position > _maxLength)
        {
            throw _tooLong?.Invoke() ?? new InvalidDataException($"The content is longer than {_maxLength} bytes.");
        }

        return read;
    }
}
