using System.Net;
using System.Security.Cryptography;
using Amazon.S3.Model;

namespace Checkpointing.S3.Tests;

/// <summary>
/// Multipart uploads against the emulator: parts sent in parallel but never more than MaxConcurrentParts at once, the
/// part buffers they use, seekable streams uploaded straight to the content key, and streams that cannot seek through a
/// temporary key.
/// </summary>
public sealed class S3MultipartTests : IAsyncLifetime
{
    private const int Part = S3BlobStoreOptions.MinPartSize;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => await S3Server.RequireAsync();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static S3BlobStoreOptions Options(RecordingHttpClientFactory recorder, int maxConcurrentParts)
    {
        var options = S3Server.Options();
        options.MultipartThreshold = Part;
        options.PartSize = Part;
        options.MaxConcurrentParts = maxConcurrentParts;
        options.ConfigureClient = c => c.HttpClientFactory = recorder;
        return options;
    }

    private static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static async Task<byte[]> ReadAllAsync(IBlobStore store, string hash)
    {
        await using var stream = await store.OpenReadAsync(hash, Ct);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, Ct);
        return copy.ToArray();
    }

    private static List<RecordingHttpClientFactory.Exchange> Parts(RecordingHttpClientFactory recorder) =>
        recorder.Exchanges.Where(e => e.Method == HttpMethod.Put && e.Query.Contains("partNumber=", StringComparison.Ordinal)).ToList();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Parts_go_up_in_parallel_but_never_more_than_MaxConcurrentParts_at_once(int maxConcurrentParts)
    {
        using var recorder = new RecordingHttpClientFactory { PartDelay = TimeSpan.FromMilliseconds(300) };
        using var store = new S3BlobStore(Options(recorder, maxConcurrentParts));
        var bytes = Bytes((6 * Part) + 1234, maxConcurrentParts);

        var reference = await store.PutAsync(new MemoryStream(bytes, writable: false), MediaTypes.Mp4, Ct);

        Assert.Equal(7, Parts(recorder).Count);
        Assert.Equal(maxConcurrentParts, recorder.MaxPartsInFlight);
        Assert.Equal(bytes, await ReadAllAsync(store, reference.Hash));
    }

    [Fact]
    public async Task A_seekable_stream_goes_straight_to_its_content_key_without_a_copy()
    {
        using var recorder = new RecordingHttpClientFactory();
        var options = Options(recorder, 4);
        using var store = new S3BlobStore(options);
        var bytes = Bytes((5 * Part) + 17, 5);

        var reference = await store.PutAsync(new MemoryStream(bytes, writable: false), MediaTypes.Mp4, Ct);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), reference.Hash);
        Assert.Equal(bytes.Length, reference.Size);
        Assert.Equal(bytes, await ReadAllAsync(store, reference.Hash));
        var contentPath = $"/{S3Server.Bucket}/{options.KeyPrefix}{reference.Hash}";
        Assert.Equal(Enumerable.Repeat(contentPath, 6), Parts(recorder).Select(p => p.Path));
        Assert.DoesNotContain(recorder.Exchanges, e => e.Path.Contains(S3BlobStore.TempFolder, StringComparison.Ordinal));
        // One PUT besides the parts: the refresh probe (a copy onto itself) that finds the blob is not stored yet.
        Assert.Equal([HttpStatusCode.NotFound], recorder.Exchanges.Where(e => e.Method == HttpMethod.Put && !e.Query.Contains("partNumber=", StringComparison.Ordinal)).Select(e => e.Status));
        Assert.DoesNotContain(recorder.Exchanges, e => e.Method == HttpMethod.Delete);
        Assert.Equal([options.KeyPrefix + reference.Hash], await S3Server.KeysAsync(options.KeyPrefix));
    }

    [Fact]
    public async Task A_stream_that_cannot_seek_goes_through_a_temporary_key_and_round_trips_byte_exact()
    {
        using var recorder = new RecordingHttpClientFactory();
        var options = Options(recorder, 3);
        using var store = new S3BlobStore(options);
        var bytes = Bytes((4 * Part) + 99, 4);

        var reference = await store.PutAsync(new ForwardOnlyStream(new MemoryStream(bytes, writable: false)), MediaTypes.Mp4, Ct);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), reference.Hash);
        Assert.Equal(bytes, await ReadAllAsync(store, reference.Hash));
        var parts = Parts(recorder);
        Assert.Equal(5, parts.Count);
        Assert.All(parts, p => Assert.StartsWith($"/{S3Server.Bucket}/{options.KeyPrefix}{S3BlobStore.TempFolder}", p.Path, StringComparison.Ordinal));
        Assert.Equal([options.KeyPrefix + reference.Hash], await S3Server.KeysAsync(options.KeyPrefix));
    }

    [Fact]
    public async Task Part_buffers_have_the_exact_part_size_and_an_upload_holds_no_more_than_MaxConcurrentParts_of_them()
    {
        using var recorder = new RecordingHttpClientFactory { PartDelay = TimeSpan.FromMilliseconds(100) };
        var options = Options(recorder, 3);
        options.PartSize = Part + 1; // not a power of two: an ArrayPool would hand out 8 MiB arrays
        using var store = new S3BlobStore(options);

        await store.PutAsync(new MemoryStream(Bytes(40_000_000, 1), writable: false), MediaTypes.Mp4, Ct);
        await store.PutAsync(new ForwardOnlyStream(new MemoryStream(Bytes(40_000_000, 2), writable: false)), MediaTypes.Mp4, Ct);
        await store.PutAsync(new MemoryStream(Bytes(1000, 3), writable: false), MediaTypes.Png, Ct);

        var buffers = store.PartBuffers;
        Assert.Equal(Part + 1, buffers.BufferSize);
        Assert.Equal(3, buffers.PeakInUse);  // 40 MB in 8 parts, three in flight at a time
        Assert.Equal(3, buffers.Allocated);  // reused across uploads, none allocated after the first
        Assert.Equal(0, buffers.InUse);
        Assert.Equal(16, Parts(recorder).Count); // 40,000,000 bytes are 8 parts of 5 MiB + 1, twice
    }

    [Fact]
    public async Task A_blob_between_the_threshold_and_a_few_parts_is_held_in_whole_part_buffers_and_goes_up_in_one_PUT()
    {
        using var recorder = new RecordingHttpClientFactory();
        var options = S3Server.Options();
        options.ConfigureClient = c => c.HttpClientFactory = recorder;
        using var store = new S3BlobStore(options); // defaults: 16 MiB threshold, 6 MiB parts
        var bytes = Bytes(16 * S3BlobStoreOptions.MiB, 16);

        var reference = await store.PutAsync(new ForwardOnlyStream(new MemoryStream(bytes, writable: false)), MediaTypes.Mp4, Ct);

        Assert.Equal(bytes, await ReadAllAsync(store, reference.Hash));
        Assert.Empty(Parts(recorder));
        Assert.Equal(6 * S3BlobStoreOptions.MiB, store.PartBuffers.BufferSize);
        Assert.Equal(3, store.PartBuffers.PeakInUse); // 16 MiB + 1 byte read ahead fits in three 6 MiB buffers, not a 32 MiB array
    }

    [Fact]
    public async Task A_seekable_stream_that_changes_between_its_two_reads_is_refused_and_nothing_is_stored()
    {
        using var recorder = new RecordingHttpClientFactory();
        var options = Options(recorder, 2);
        using var store = new S3BlobStore(options);
        var bytes = Bytes((3 * Part) + 5, 3);

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => store.PutAsync(new ChangingStream(bytes), MediaTypes.Mp4, Ct));

        Assert.StartsWith("The stream changed while it was uploaded: its first read gave", e.Message, StringComparison.Ordinal);
        Assert.Contains(recorder.Exchanges, x => x.Method == HttpMethod.Delete && x.Query.Contains("uploadId=", StringComparison.Ordinal));
        Assert.DoesNotContain(recorder.Exchanges, x => x.Method == HttpMethod.Post && x.Query.Contains("uploadId=", StringComparison.Ordinal));
        Assert.Empty(await S3Server.KeysAsync(options.KeyPrefix));
    }

    [Fact]
    public async Task When_another_writer_stores_the_same_blob_first_the_conditional_complete_answers_412_and_the_upload_is_dropped()
    {
        using var recorder = new RecordingHttpClientFactory();
        var options = Options(recorder, 2);
        using var store = new S3BlobStore(options);
        var bytes = Bytes((2 * Part) + 3, 7);
        var key = options.KeyPrefix + Convert.ToHexStringLower(SHA256.HashData(bytes));
        using var other = S3Server.CreateClient();
        recorder.BeforeSend = async request =>
        {
            // Just before the store completes its upload, another writer stores the same content at the same key.
            if (request.Method == HttpMethod.Post && request.RequestUri!.Query.Contains("uploadId=", StringComparison.Ordinal))
            {
                await other.PutObjectAsync(new PutObjectRequest { BucketName = S3Server.Bucket, Key = key, InputStream = new MemoryStream(bytes), UseChunkEncoding = false }, Ct);
            }
        };

        var reference = await store.PutAsync(new MemoryStream(bytes, writable: false), MediaTypes.Mp4, Ct);

        Assert.Equal(key, options.KeyPrefix + reference.Hash);
        var complete = Assert.Single(recorder.Exchanges, x => x.Method == HttpMethod.Post && x.Query.Contains("uploadId=", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.PreconditionFailed, complete.Status);
        Assert.Single(recorder.Exchanges, x => x.Method == HttpMethod.Delete && x.Query.Contains("uploadId=", StringComparison.Ordinal)); // aborted
        Assert.Equal(bytes, await ReadAllAsync(store, reference.Hash));
        Assert.Equal([key], await S3Server.KeysAsync(options.KeyPrefix));
    }

    [Fact]
    public async Task A_failing_part_cancels_the_others_and_aborts_the_upload()
    {
        using var recorder = new RecordingHttpClientFactory { PartDelay = TimeSpan.FromMilliseconds(200) };
        var options = Options(recorder, 3);
        using var store = new S3BlobStore(options);
        recorder.BeforeSend = request =>
            request.RequestUri!.Query.Contains("partNumber=2", StringComparison.Ordinal) && request.Method == HttpMethod.Put
                ? throw new HttpRequestException("the network broke")
                : Task.CompletedTask;

        var e = await Assert.ThrowsAnyAsync<Exception>(() => store.PutAsync(new MemoryStream(Bytes(8 * Part, 8), writable: false), MediaTypes.Mp4, Ct));

        Assert.False(e is OperationCanceledException, $"the part's failure is reported, not the cancellation it caused: {e}");
        Assert.Single(recorder.Exchanges, x => x.Method == HttpMethod.Delete && x.Query.Contains("uploadId=", StringComparison.Ordinal));
        Assert.True(Parts(recorder).Count < 8, "the parts after the failure were not sent");
        Assert.Equal(0, store.PartBuffers.InUse);
        Assert.Empty(await S3Server.KeysAsync(options.KeyPrefix));
    }

    /// <summary>A stream that cannot seek (as a network body is).</summary>
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

    /// <summary>A seekable stream whose content changes when it is rewound (a file rewritten while it is uploaded).</summary>
    private sealed class ChangingStream(byte[] bytes) : MemoryStream(bytes.ToArray(), 0, bytes.Length, writable: false, publiclyVisible: true)
    {
        public override long Seek(long offset, SeekOrigin origin)
        {
            GetBuffer()[^1] ^= 0xFF;
            return base.Seek(offset, origin);
        }
    }
}
