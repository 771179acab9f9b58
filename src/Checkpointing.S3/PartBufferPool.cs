using System.Collections.Concurrent;

namespace Checkpointing.S3;

/// <summary>
/// The store's part buffers: arrays of exactly <see cref="BufferSize"/> bytes (not rounded up to a power of two as
/// <see cref="System.Buffers.ArrayPool{T}"/> does), reused across uploads. At most <see cref="Capacity"/> free buffers
/// are kept; more are allocated only while more are in use at once, and dropped when returned.
/// </summary>
internal sealed class PartBufferPool(int bufferSize, int capacity)
{
    private readonly ConcurrentStack<byte[]> _free = new();
    private int _inUse;
    private int _peakInUse;
    private int _allocated;

    /// <summary>The length of every buffer.</summary>
    public int BufferSize { get; } = bufferSize;

    /// <summary>How many free buffers are kept for reuse.</summary>
    public int Capacity { get; } = capacity;

    /// <summary>How many buffers are rented now.</summary>
    public int InUse => Volatile.Read(ref _inUse);

    /// <summary>The most buffers rented at once since the pool was created.</summary>
    public int PeakInUse => Volatile.Read(ref _peakInUse);

    /// <summary>How many buffers the pool has allocated.</summary>
    public int Allocated => Volatile.Read(ref _allocated);

    public byte[] Rent()
    {
        var inUse = Interlocked.Increment(ref _inUse);
        int peak;
        while (inUse > (peak = Volatile.Read(ref _peakInUse)) && Interlocked.CompareExchange(ref _peakInUse, inUse, peak) != peak)
        {
        }

        if (_free.TryPop(out var buffer))
        {
            return buffer;
        }

        Interlocked.Increment(ref _allocated);
        return GC.AllocateUninitializedArray<byte>(BufferSize);
    }

    public void Return(byte[] buffer)
    {
        Interlocked.Decrement(ref _inUse);
        if (buffer.Length == BufferSize && _free.Count < Capacity)
        {
            _free.Push(buffer);
        }
    }
}
