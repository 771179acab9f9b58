using System.Buffers.Binary;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Amazon.S3.Transfer;
using BenchmarkDotNet.Attributes;
using Checkpointing.S3;

namespace Checkpointing.Benchmarks;

/// <summary>
/// P3: writing a new 256 MB blob through <see cref="S3BlobStore"/> (from a seekable stream: hashed first, uploaded straight
/// to its content key; and from a stream that cannot seek: through a temporary key and a server-side copy) against
/// AWSSDK's <see cref="TransferUtility"/> uploading the same bytes (the baseline; its default 10 concurrent requests and
/// 5 MiB-or-more parts). Each iteration changes the first bytes, so every write stores new content; the objects are
/// deleted after each iteration. Against the S3 emulator from <c>tests/infra/s3.sh</c>. Targets: ≥ 0.9× TransferUtility's
/// throughput (a ratio ≤ 1.11), ≤ 32 MB allocated (the part buffers are allocated once per store and reused, so the
/// NewStore method shows the peak of an upload that allocates them).
/// </summary>
[SingleInvocationJob(4)]
public class P3S3WriteBenchmarks
{
    private const string Bucket = "checkpointing-bench";
    private byte[] _content = [];
    private AmazonS3Client _client = null!;
    private S3BlobStore _store = null!;
    private TransferUtility _transfer = null!;
    private string _prefix = "";
    private long _counter;
    private string? _written;
    private S3BlobStoreOptions _options = null!;

    [Params(256 * 1024 * 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        _content = new byte[Size];
        RandomNumberGenerator.Fill(_content);
        _prefix = Env.NewName("p3") + "/";
        var options = new S3BlobStoreOptions
        {
            BucketName = Bucket,
            KeyPrefix = _prefix,
            ServiceUrl = Env.S3Url,
            ForcePathStyle = true,
            ChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            AccessKey = Env.S3AccessKey,
            SecretKey = Env.S3SecretKey,
        };
        _options = options;
        _client = new AmazonS3Client(new BasicAWSCredentials(Env.S3AccessKey, Env.S3SecretKey), S3BlobStore.CreateClientConfig(options));
        try
        {
            await _client.PutBucketAsync(new PutBucketRequest { BucketName = Bucket });
        }
        catch (AmazonS3Exception e) when (e.ErrorCode is "BucketAlreadyOwnedByYou" or "BucketAlreadyExists")
        {
        }

        _store = new S3BlobStore(_client, options);
        _transfer = new TransferUtility(_client);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _transfer.Dispose();
        _store.Dispose();
        _client.Dispose();
    }

    [IterationSetup]
    public void NewContent() => BinaryPrimitives.WriteInt64LittleEndian(_content, Interlocked.Increment(ref _counter) ^ DateTime.UtcNow.Ticks);

    [IterationCleanup]
    public void DeleteWritten()
    {
        if (_written is not null)
        {
            _client.DeleteObjectAsync(Bucket, _written).GetAwaiter().GetResult();
            _written = null;
        }
    }

    [Benchmark(Baseline = true)]
    public async Task TransferUtilityUpload()
    {
        var key = _prefix + "raw-" + _counter;
        using var stream = new MemoryStream(_content, writable: false);
        await _transfer.UploadAsync(new TransferUtilityUploadRequest { BucketName = Bucket, Key = key, InputStream = stream, AutoCloseStream = false, ContentType = MediaTypes.Mp4 });
        _written = key;
    }

    [Benchmark]
    public async Task<BlobReference> StorePutSeekable()
    {
        using var stream = new MemoryStream(_content, writable: false);
        var blob = await _store.PutAsync(stream, MediaTypes.Mp4);
        _written = _prefix + blob.Hash;
        return blob;
    }

    /// <summary>As <see cref="StorePutSeekable"/>, on a new store each time, so its part buffers are allocated within the measurement: the peak.</summary>
    [Benchmark]
    public async Task<BlobReference> StorePutSeekableNewStore()
    {
        using var store = new S3BlobStore(_client, _options);
        using var stream = new MemoryStream(_content, writable: false);
        var blob = await store.PutAsync(stream, MediaTypes.Mp4);
        _written = _prefix + blob.Hash;
        return blob;
    }

    [Benchmark]
    public async Task<BlobReference> StorePutForwardOnly()
    {
        using var stream = new ForwardOnlyStream(new MemoryStream(_content, writable: false));
        var blob = await _store.PutAsync(stream, MediaTypes.Mp4);
        _written = _prefix + blob.Hash;
        return blob;
    }

    /// <summary>A stream that cannot seek, as a network body.</summary>
    private sealed class ForwardOnlyStream(Stream inner) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
