using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;

namespace Checkpointing.Benchmarks;

/// <summary>Storing a blob through the file-system store (hash + temp file + rename) against a raw file write.</summary>
[ShortJob]
public class BlobStoreBenchmarks
{
    private byte[] _content = [];
    private string _root = "";
    private FileSystemBlobStore _store = null!;

    [Params(64 * 1024, 4 * 1024 * 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _content = RandomNumberGenerator.GetBytes(Size);
        _root = Path.Combine(Path.GetTempPath(), "checkpointing-bench", Guid.NewGuid().ToString("N"));
        _store = new FileSystemBlobStore(_root);
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_root, recursive: true);

    [Benchmark(Baseline = true)]
    public async Task RawFileWrite()
    {
        var path = Path.Combine(_root, "raw.bin");
        await File.WriteAllBytesAsync(path, _content);
    }

    [Benchmark]
    public async Task<BlobReference> PutNewContent()
    {
        // A new first byte each time, so the store really writes.
        _content[0]++;
        using var stream = new MemoryStream(_content, writable: false);
        return await _store.PutAsync(stream, MediaTypes.OctetStream);
    }

    [Benchmark]
    public async Task<BlobReference> PutExistingContent()
    {
        using var stream = new MemoryStream(_content, writable: false);
        return await _store.PutAsync(stream, MediaTypes.OctetStream);
    }
}
