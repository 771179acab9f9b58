using System.Net;
using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace Checkpointing.S3.Tests;

/// <summary>What the conformance suite cannot see: multipart uploads, what lands in the bucket, presigned URLs, errors.</summary>
public sealed class S3BlobStoreTests : IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => await S3Server.RequireAsync();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static S3BlobStoreOptions SmallParts(string? prefix = null)
    {
        var options = S3Server.Options(prefix);
        options.MultipartThreshold = S3BlobStoreOptions.MinPartSize;
        options.PartSize = S3BlobStoreOptions.MinPartSize;
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

    [Fact]
    public async Task A_20_MB_blob_round_trips_byte_exact_through_a_multipart_upload()
    {
        using var recorder = new RecordingHttpClientFactory();
        var options = SmallParts();
        options.ConfigureClient = c => c.HttpClientFactory = recorder;
        using var store = new S3BlobStore(options);
        var bytes = Bytes(20_000_000, 20);

        using var source = new MemoryStream(bytes, writable: false);
        var reference = await store.PutAsync(source, MediaTypes.Mp4, Ct);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), reference.Hash);
        Assert.Equal(bytes.Length, reference.Size);
        Assert.Equal(bytes, await ReadAllAsync(store, reference.Hash));

        // 20,000,000 bytes in parts of 5 MiB: three full parts and a last one of 4,271,360 bytes, straight to the content
        // key (the stream can seek, so it was hashed first).
        var parts = recorder.Exchanges.Where(e => e.Method == HttpMethod.Put && e.Query.Contains("partNumber=", StringComparison.Ordinal)).ToList();
        Assert.Equal(4, parts.Count);
        Assert.All(parts, p => Assert.Equal($"/{S3Server.Bucket}/{options.KeyPrefix}{reference.Hash}", p.Path));
        Assert.Single(recorder.Exchanges, e => e.Method == HttpMethod.Post && e.Query.Contains("uploadId=", StringComparison.Ordinal));
        Assert.Equal([options.KeyPrefix + reference.Hash], await S3Server.KeysAsync(options.KeyPrefix));
    }

    [Theory]
    [InlineData(100_000)]
    [InlineData(12_000_000)]
    public async Task Identical_content_uploaded_twice_is_stored_once_and_leaves_no_temporary_keys(int length)
    {
        var options = SmallParts();
        using var store = new S3BlobStore(options);
        var bytes = Bytes(length, length);

        var first = await store.PutAsync(new MemoryStream(bytes), MediaTypes.Png, Ct);
        var second = await store.PutAsync(new MemoryStream(bytes.ToArray()), MediaTypes.Png, Ct);

        Assert.Equal(first, second);
        Assert.Equal([options.KeyPrefix + first.Hash], await S3Server.KeysAsync(options.KeyPrefix));
        Assert.Equal(bytes, await ReadAllAsync(store, first.Hash));
    }

    [Fact]
    public async Task Storing_known_content_again_answers_412_and_refreshes_its_last_modified_time()
    {
        using var recorder = new RecordingHttpClientFactory();
        var options = S3Server.Options();
        options.ConfigureClient = c => c.HttpClientFactory = recorder;
        using var store = new S3BlobStore(options);
        var bytes = Bytes(1000, 1);
        var reference = await store.PutAsync(new MemoryStream(bytes), MediaTypes.Png, Ct);
        var before = Assert.Single(await ListAllAsync(store)).LastModified;
        await Task.Delay(1100, Ct); // S3 times have a resolution of one second

        await store.PutAsync(new MemoryStream(bytes), MediaTypes.Png, Ct);

        var puts = recorder.Exchanges.Where(e => e.Method == HttpMethod.Put && e.Path.EndsWith(reference.Hash, StringComparison.Ordinal)).Select(e => e.Status).ToList();
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.PreconditionFailed, HttpStatusCode.OK], puts); // put, conditional put refused, copy onto itself
        Assert.True(Assert.Single(await ListAllAsync(store)).LastModified > before, "the refresh restarts the garbage collector's grace period");
    }

    [Fact]
    public async Task Listing_follows_continuation_tokens_and_skips_temporary_and_foreign_keys()
    {
        var options = S3Server.Options();
        options.ListPageSize = 2;
        using var store = new S3BlobStore(options);
        var hashes = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            hashes.Add((await store.PutAsync(new MemoryStream(Bytes(10, i)), MediaTypes.OctetStream, Ct)).Hash);
        }

        using var client = S3Server.CreateClient();
        foreach (var key in new[] { $"{S3BlobStore.TempFolder}leftover", "not-a-hash", "nested/" + hashes[0], hashes[0].ToUpperInvariant() })
        {
            await client.PutObjectAsync(new PutObjectRequest { BucketName = S3Server.Bucket, Key = options.KeyPrefix + key, ContentBody = "x" }, Ct);
        }

        var listed = await ListAllAsync(store);

        Assert.Equal(hashes.Order(StringComparer.Ordinal), listed.Select(b => b.Hash).Order(StringComparer.Ordinal));
        Assert.All(listed, b => Assert.Equal(10, b.Size));
    }

    [Fact]
    public async Task Stores_with_different_prefixes_in_one_bucket_do_not_see_each_other()
    {
        var parent = S3Server.NewPrefix();
        using var outer = new S3BlobStore(S3Server.Options(parent));
        using var inner = new S3BlobStore(S3Server.Options(parent + "inner/"));

        var a = await outer.PutAsync(new MemoryStream(Bytes(10, 1)), MediaTypes.Png, Ct);
        var b = await inner.PutAsync(new MemoryStream(Bytes(10, 2)), MediaTypes.Png, Ct);

        Assert.Equal([a.Hash], (await ListAllAsync(outer)).Select(x => x.Hash));
        Assert.Equal([b.Hash], (await ListAllAsync(inner)).Select(x => x.Hash));
        Assert.False(await outer.ExistsAsync(b.Hash, Ct));
    }

    [Fact]
    public async Task A_presigned_url_reads_the_bytes_with_a_plain_HttpClient_and_a_tampered_one_is_refused()
    {
        using var store = new S3BlobStore(S3Server.Options());
        var bytes = Bytes(5000, 9);
        var reference = await store.PutAsync(new MemoryStream(bytes), MediaTypes.Png, Ct);
        var other = await store.PutAsync(new MemoryStream(Bytes(5000, 10)), MediaTypes.Png, Ct);
        using var http = new HttpClient();

        var url = await store.GetReadUrlAsync(reference, TimeSpan.FromMinutes(5), Ct);

        Assert.Equal(bytes, await http.GetByteArrayAsync(url, Ct));
        Assert.Contains("X-Amz-Signature=", url.Query, StringComparison.Ordinal);

        var otherKey = new Uri(url.ToString().Replace(reference.Hash, other.Hash, StringComparison.Ordinal));
        var signature = url.Query.Split('&').Single(p => p.Contains("X-Amz-Signature=", StringComparison.Ordinal));
        var flipped = signature[..^1] + (signature[^1] == '0' ? '1' : '0');
        var otherSignature = new Uri(url.ToString().Replace(signature, flipped, StringComparison.Ordinal));
        var longer = new Uri(Regex.Replace(url.ToString(), "X-Amz-Expires=[0-9]+", "X-Amz-Expires=3000"));
        foreach (var tampered in new[] { otherKey, otherSignature, longer })
        {
            Assert.NotEqual(url, tampered);
            using var response = await http.GetAsync(tampered, Ct);
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        }
    }

    [Fact]
    public async Task A_read_url_lives_as_long_as_asked_but_no_longer_than_the_cap()
    {
        var options = S3Server.Options();
        options.MaxReadUrlLifetime = TimeSpan.FromMinutes(30);
        using var store = new S3BlobStore(options);
        var reference = await store.PutAsync(new MemoryStream(Bytes(10, 1)), MediaTypes.Png, Ct);

        var shortUrl = await store.GetReadUrlAsync(reference, TimeSpan.FromMinutes(2), Ct);
        var cappedUrl = await store.GetReadUrlAsync(reference, TimeSpan.FromDays(3), Ct);

        // The SDK counts from its own clock at whole seconds, corrected for skew against the server's whole-second Date
        // header: the signed lifetime may be a second off either way, never more (seen in CI: 121 for 120).
        Assert.InRange(ExpiresOf(shortUrl), 119, 121);
        Assert.InRange(ExpiresOf(cappedUrl), 1799, 1801);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.GetReadUrlAsync(reference, TimeSpan.Zero, Ct));
    }

    [Fact]
    public async Task An_expired_read_url_is_refused()
    {
        using var store = new S3BlobStore(S3Server.Options());
        var reference = await store.PutAsync(new MemoryStream(Bytes(10, 1)), MediaTypes.Png, Ct);
        using var http = new HttpClient();

        var url = await store.GetReadUrlAsync(reference, TimeSpan.FromSeconds(1), Ct);
        await Task.Delay(TimeSpan.FromSeconds(2.5), Ct);

        using var response = await http.GetAsync(url, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    /// <summary>
    /// A multipart upload that is cancelled or whose source fails is aborted. The emulator does not implement
    /// AbortMultipartUpload (it answers 405 Method Not Allowed), so the test cannot ask the server whether the upload
    /// is gone; it observes instead, through a DelegatingHandler in the SDK's HttpClientFactory, that the store sent
    /// <c>DELETE …?uploadId=…</c> for the very upload it started. Real S3 answers 204 to that request.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_cancelled_or_failed_multipart_upload_is_aborted(bool cancel)
    {
        using var recorder = new RecordingHttpClientFactory();
        var options = SmallParts();
        options.ConfigureClient = c => c.HttpClientFactory = recorder;
        using var logs = new ListLoggerFactory();
        using var store = new S3BlobStore(options, logs);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var source = new EndlessStream(stopAfter: 12 * S3BlobStoreOptions.MiB, cancel ? cts.Cancel : () => throw new IOException("the source broke"));

        var e = await Assert.ThrowsAnyAsync<Exception>(() => store.PutAsync(source, MediaTypes.Mp4, cts.Token));

        Assert.True(cancel ? e is OperationCanceledException : e is IOException, $"unexpected {e}");
        var start = Assert.Single(recorder.Exchanges, x => x.Method == HttpMethod.Post && x.Query.Contains("uploads", StringComparison.Ordinal));
        Assert.StartsWith($"/{S3Server.Bucket}/{options.KeyPrefix}{S3BlobStore.TempFolder}", start.Path, StringComparison.Ordinal);
        Assert.Contains(recorder.Exchanges, x => x.Method == HttpMethod.Put && x.Path == start.Path && x.Query.Contains("partNumber=2", StringComparison.Ordinal));
        var abort = Assert.Single(recorder.Exchanges, x => x.Method == HttpMethod.Delete);
        Assert.Equal(start.Path, abort.Path);
        Assert.Contains("uploadId=", abort.Query, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, abort.Status); // the emulator's gap; the store logs it and goes on
        var uploadId = Uri.UnescapeDataString(abort.Query.Split('&').Single(p => p.TrimStart('?').StartsWith("uploadId=", StringComparison.Ordinal)).Split('=')[1]);
        var warning = Assert.Single(logs.Entries, l => l.Id.Id == 3006);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(uploadId, warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(recorder.Exchanges, x => x.Query.Contains("x-id=CompleteMultipartUpload", StringComparison.Ordinal) || (x.Method == HttpMethod.Post && x.Query.Contains("uploadId=", StringComparison.Ordinal)));
        Assert.Empty(await S3Server.KeysAsync(options.KeyPrefix));
    }

    [Fact]
    public async Task A_wrong_secret_fails_with_an_exception_that_says_which_setting_to_check()
    {
        var options = S3Server.Options();
        options.SecretKey = "not-the-secret";
        using var store = new S3BlobStore(options);

        var e = await Assert.ThrowsAsync<S3BlobStoreException>(() => store.PutAsync(new MemoryStream([1, 2, 3]), MediaTypes.Png, Ct));

        Assert.Equal("SignatureDoesNotMatch", e.ErrorCode);
        Assert.Equal(HttpStatusCode.Forbidden, e.StatusCode);
        Assert.StartsWith($"S3 refused to store a blob in bucket '{S3Server.Bucket}' (403 SignatureDoesNotMatch: ", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("the secret key does not match the access key: check S3BlobStoreOptions.SecretKey (or the AWS credentials in the environment).", e.Message, StringComparison.Ordinal);
        Assert.IsType<AmazonS3Exception>(e.InnerException, exactMatch: false);
        await Assert.ThrowsAsync<S3BlobStoreException>(() => store.ExistsAsync(BlobHash.Compute([1, 2, 3]), Ct));
        Assert.Empty(await S3Server.KeysAsync(options.KeyPrefix));
    }

    [Fact]
    public async Task A_missing_bucket_is_not_mistaken_for_a_missing_blob()
    {
        var options = S3Server.Options();
        options.BucketName = "no-such-bucket-" + Guid.NewGuid().ToString("N")[..8];
        using var store = new S3BlobStore(options);

        var e = await Assert.ThrowsAsync<S3BlobStoreException>(() => store.OpenReadAsync(BlobHash.Compute([1]), Ct));

        Assert.Equal("NoSuchBucket", e.ErrorCode);
        Assert.EndsWith("the bucket does not exist: create it, or fix S3BlobStoreOptions.BucketName.", e.Message, StringComparison.Ordinal);
    }

    private static int ExpiresOf(Uri url) => int.Parse(Regex.Match(url.Query, "X-Amz-Expires=([0-9]+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<List<StoredBlob>> ListAllAsync(IBlobStore store)
    {
        var list = new List<StoredBlob>();
        await foreach (var blob in store.ListAsync(Ct))
        {
            list.Add(blob);
        }

        return list;
    }

    /// <summary>Random-looking bytes without end; after <c>stopAfter</c> bytes it calls <c>onStop</c> (cancel or throw) once.</summary>
    private sealed class EndlessStream(int stopAfter, Action onStop) : Stream
    {
        private long _position;
        private bool _stopped;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (!_stopped && _position >= stopAfter)
            {
                _stopped = true;
                onStop();
            }

            var n = Math.Min(count, 64 * 1024);
            for (var i = 0; i < n; i++)
            {
                buffer[offset + i] = (byte)((_position + i) * 31 % 251);
            }

            _position += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var array = new byte[Math.Min(buffer.Length, 64 * 1024)];
            var n = Read(array, 0, array.Length);
            cancellationToken.ThrowIfCancellationRequested();
            array.AsSpan(0, n).CopyTo(buffer.Span);
            return ValueTask.FromResult(n);
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
