namespace Checkpointing.S3;

/// <summary>A read-only, seekable stream over the filled parts of several buffers, in order (the body of a single PUT).</summary>
internal sealed class SegmentStream(IReadOnlyList<(byte[] Buffer, int Length)> segments) : Stream
{
    private readonly long _length = segments.Sum(s => (long)s.Length);
    private long _position;

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => _length;

    public override long Position
    {
        get => _position;
        set => _position = value is >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var total = 0;
        long start = 0;
        foreach (var (bytes, length) in segments)
        {
            if (buffer.IsEmpty)
            {
                break;
            }

            if (_position < start + length)
            {
                var offset = (int)(_position - start);
                var n = Math.Min(length - offset, buffer.Length);
                bytes.AsSpan(offset, n).CopyTo(buffer);
                buffer = buffer[n..];
                _position += n;
                total += n;
            }

            start += length;
        }

        return total;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Read(buffer.Span));
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => _position + offset,
        SeekOrigin.End => _length + offset,
        _ => throw new ArgumentOutOfRangeException(nameof(origin)),
    };

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
