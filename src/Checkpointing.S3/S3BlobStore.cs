using System.Net;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Checkpointing.S3;

/// <summary>
/// A content-addressed blob store on Amazon S3 or any S3-compatible service. A blob is the object
/// <c>{KeyPrefix}{sha256}</c>. Uploads stream: a blob up to <see cref="S3BlobStoreOptions.MultipartThreshold"/> is
/// hashed in memory and written with one conditional PUT (<c>If-None-Match: *</c>). A larger one goes up as a multipart
/// upload, <see cref="S3BlobStoreOptions.MaxConcurrentParts"/> parts at a time from a fixed set of part buffers: from a
/// seekable stream straight to its content key (hashed first, completed with <c>If-None-Match: *</c>); from a stream that
/// cannot seek to a temporary key while it is hashed, then copied to its content key (again <c>If-None-Match: *</c>) and
/// the temporary object deleted. So a blob is only ever visible complete, and identical content is stored once.
/// </summary>
public sealed class S3BlobStore : IBlobStore, IDisposable
{
    /// <summary>The folder under the key prefix that holds uploads in progress.</summary>
    public const string TempFolder = ".tmp/";

    private const int MaxParts = 10_000;
    private readonly IAmazonS3 _client;
    private readonly bool _ownsClient;
    private readonly S3BlobStoreOptions _options;
    private readonly string _bucket;
    private readonly string _prefix;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly PartBufferPool _buffers;

    /// <summary>Creates the store and the S3 client it owns from <paramref name="options"/>.</summary>
    /// <param name="options">The options; validated here.</param>
    /// <param name="loggerFactory">Logs; optional.</param>
    /// <param name="time">The clock presigned URLs expire by (the SDK signs them with the system clock); optional.</param>
    /// <exception cref="InvalidOperationException">The options are invalid; the message lists every problem.</exception>
    public S3BlobStore(S3BlobStoreOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
        : this(null, options, clientGiven: false, loggerFactory, time)
    {
    }

    /// <summary>Creates the store on a client the application owns (the store does not dispose it).</summary>
    /// <param name="client">The S3 client; its own configuration says how to reach the service.</param>
    /// <param name="options">The options (bucket, prefix, upload sizes, URL lifetime); validated here. Connection settings are ignored.</param>
    /// <param name="loggerFactory">Logs; optional.</param>
    /// <param name="time">The clock presigned URLs expire by (the SDK signs them with the system clock); optional.</param>
    /// <exception cref="InvalidOperationException">The options are invalid; the message lists every problem.</exception>
    public S3BlobStore(IAmazonS3 client, S3BlobStoreOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
        : this(client ?? throw new ArgumentNullException(nameof(client)), options, clientGiven: true, loggerFactory, time)
    {
    }

    /// <summary>Creates the store from DI options.</summary>
    /// <param name="options">The options.</param>
    /// <param name="loggerFactory">Logs; optional.</param>
    /// <param name="time">The clock; optional.</param>
    public S3BlobStore(IOptions<S3BlobStoreOptions> options, ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
        : this((options ?? throw new ArgumentNullException(nameof(options))).Value, loggerFactory, time)
    {
    }

    private S3BlobStore(IAmazonS3? client, S3BlobStoreOptions options, bool clientGiven, ILoggerFactory? loggerFactory, TimeProvider? time)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = S3BlobStoreOptionsValidator.Check(options, clientGiven);
        if (errors.Count > 0)
        {
            throw new InvalidOperationException(string.Join(Environment.NewLine, errors));
        }

        _options = options;
        _bucket = options.BucketName!;
        _prefix = options.KeyPrefix;
        _ownsClient = client is null;
        _client = client ?? CreateClient(options);
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<S3BlobStore>();
        _time = time ?? TimeProvider.System;
        _buffers = new PartBufferPool(options.PartSize, options.MaxConcurrentParts);
        _logger.StoreOpened(_bucket, _prefix);
    }

    /// <summary>The bucket holding the blobs.</summary>
    public string BucketName => _bucket;

    /// <summary>The prefix of every key the store writes.</summary>
    public string KeyPrefix => _prefix;

    /// <summary>The part buffers (for tests: their size, how many were allocated and in use at once).</summary>
    internal PartBufferPool PartBuffers => _buffers;

    /// <summary>Builds the <see cref="AmazonS3Config"/> the store uses for a client it creates itself.</summary>
    /// <param name="options">The options.</param>
    /// <returns>The configuration, after <see cref="S3BlobStoreOptions.ConfigureClient"/>.</returns>
    public static AmazonS3Config CreateClientConfig(S3BlobStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var config = new AmazonS3Config { ForcePathStyle = options.ForcePathStyle };
        if (!string.IsNullOrWhiteSpace(options.ServiceUrl))
        {
            config.ServiceURL = options.ServiceUrl;
            config.AuthenticationRegion = string.IsNullOrWhiteSpace(options.Region) ? "us-east-1" : options.Region;
        }
        else if (!string.IsNullOrWhiteSpace(options.Region))
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
        }

        if (options.ChecksumCalculation is { } checksum)
        {
            config.RequestChecksumCalculation = checksum;
        }

        options.ConfigureClient?.Invoke(config);
        return config;
    }

    private static AmazonS3Client CreateClient(S3BlobStoreOptions options)
    {
        var config = CreateClientConfig(options);
        return string.IsNullOrEmpty(options.AccessKey)
            ? new AmazonS3Client(config)
            : new AmazonS3Client(new BasicAWSCredentials(options.AccessKey, options.SecretKey), config);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Up to <see cref="S3BlobStoreOptions.MultipartThreshold"/> bytes go up in one conditional PUT. A larger seekable
    /// stream is hashed first, then read again and uploaded in parts straight to its content key (no copy); a larger
    /// stream that cannot seek is uploaded in parts to a temporary key while it is hashed, then copied to its content
    /// key. Parts go up <see cref="S3BlobStoreOptions.MaxConcurrentParts"/> at a time from the store's part buffers.
    /// </remarks>
    /// <exception cref="InvalidOperationException">The blob needs more than S3's 10,000 parts, or a seekable stream changed between its two reads.</exception>
    public async Task<BlobReference> PutAsync(Stream content, string mediaType, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentException.ThrowIfNullOrWhiteSpace(mediaType);

        var start = content.CanSeek ? content.Position : -1;
        var head = new List<(byte[] Buffer, int Length)>();
        try
        {
            // Read whole part buffers until more than the threshold is held or the stream ends: a blob that fits goes up
            // in one PUT straight to its content key; otherwise the buffers already read become the first parts.
            var threshold = _options.MultipartThreshold;
            long held = 0;
            while (held <= threshold)
            {
                var buffer = _buffers.Rent();
                var n = await FillAsync(content, buffer, buffer.Length, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    _buffers.Return(buffer);
                    break;
                }

                head.Add((buffer, n));
                held += n;
                if (n < buffer.Length)
                {
                    break;
                }
            }

            if (held <= threshold)
            {
                using var hasher = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                foreach (var (buffer, length) in head)
                {
                    hasher.AppendData(buffer, 0, length);
                }

                var hash = Convert.ToHexStringLower(hasher.GetHashAndReset());
                await PutSmallAsync(hash, head, held, mediaType, cancellationToken).ConfigureAwait(false);
                return new BlobReference(hash, held, mediaType);
            }

            return start >= 0
                ? await PutSeekableAsync(head, content, start, mediaType, cancellationToken).ConfigureAwait(false)
                : await PutThroughTemporaryKeyAsync(head, content, mediaType, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Buffers handed on to part uploads are cleared from the list; only those still held here are returned.
            foreach (var (buffer, _) in head)
            {
                if (buffer is not null)
                {
                    _buffers.Return(buffer);
                }
            }
        }
    }

    private async Task PutSmallAsync(string hash, List<(byte[] Buffer, int Length)> segments, long length, string mediaType, CancellationToken cancellationToken)
    {
        using var body = new SegmentStream(segments);
        var request = new PutObjectRequest
        {
            BucketName = _bucket,
            Key = KeyOf(hash),
            InputStream = body,
            AutoCloseStream = false,
            ContentType = mediaType,
            IfNoneMatch = "*",
            UseChunkEncoding = false,
        };
        try
        {
            await Call(() => _client.PutObjectAsync(request, cancellationToken), "store a blob").ConfigureAwait(false);
            _logger.BlobStored(hash, length, 1);
        }
        catch (S3BlobStoreException e) when (IsAlreadyStored(e))
        {
            if (!await RefreshAsync(hash, mediaType, cancellationToken).ConfigureAwait(false))
            {
                // Collected between the conditional PUT and the refresh: write it again, unconditionally (same bytes).
                body.Position = 0;
                request.IfNoneMatch = null;
                await Call(() => _client.PutObjectAsync(request, cancellationToken), "store a blob").ConfigureAwait(false);
                _logger.BlobStored(hash, length, 1);
            }
        }
    }

    /// <summary>
    /// A seekable stream larger than the threshold: hashed in a first pass, so the parts go up straight to the content key
    /// and no server-side copy is needed. The second pass hashes again and the upload is completed only when both agree.
    /// </summary>
    private async Task<BlobReference> PutSeekableAsync(List<(byte[] Buffer, int Length)> head, Stream content, long start, string mediaType, CancellationToken cancellationToken)
    {
        string hash;
        long size = 0;
        using (var hasher = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            foreach (var (buffer, length) in head)
            {
                hasher.AppendData(buffer, 0, length);
                size += length;
            }

            // The rest of the stream is hashed through the last head buffer; the head is read again with the rest below.
            var scratch = head[^1].Buffer;
            int n;
            while ((n = await content.ReadAsync(scratch, cancellationToken).ConfigureAwait(false)) > 0)
            {
                hasher.AppendData(scratch, 0, n);
                size += n;
            }

            hash = Convert.ToHexStringLower(hasher.GetHashAndReset());
        }

        foreach (var (buffer, _) in head)
        {
            _buffers.Return(buffer);
        }

        head.Clear();

        var partSize = _options.PartSize;
        if ((size + partSize - 1) / partSize > MaxParts)
        {
            throw TooManyParts(partSize);
        }

        if (await RefreshAsync(hash, mediaType, cancellationToken).ConfigureAwait(false))
        {
            return new BlobReference(hash, size, mediaType);
        }

        content.Seek(start, SeekOrigin.Begin);
        var key = KeyOf(hash);
        var uploadId = await StartMultipartAsync(key, mediaType, cancellationToken).ConfigureAwait(false);
        var completed = false;
        try
        {
            var upload = await UploadPartsAsync(key, uploadId, head, content, cancellationToken).ConfigureAwait(false);
            if (upload.Hash != hash || upload.Size != size)
            {
                throw new InvalidOperationException(
                    $"The stream changed while it was uploaded: its first read gave {size} bytes with SHA-256 {hash}, its second {upload.Size} bytes with {upload.Hash}. " +
                    "Pass a stream whose content does not change (or one that cannot seek, which is read once).");
            }

            var complete = new CompleteMultipartUploadRequest { BucketName = _bucket, Key = key, UploadId = uploadId, PartETags = upload.Parts, IfNoneMatch = "*" };
            try
            {
                await Call(() => _client.CompleteMultipartUploadAsync(complete, cancellationToken), "complete a multipart upload").ConfigureAwait(false);
                completed = true;
                _logger.BlobStored(hash, size, upload.Parts.Count);
            }
            catch (S3BlobStoreException e) when (IsAlreadyStored(e))
            {
                // Stored by another writer since the refresh above: keep theirs (same bytes) and drop this upload.
                if (!await RefreshAsync(hash, mediaType, cancellationToken).ConfigureAwait(false))
                {
                    complete.IfNoneMatch = null;
                    await Call(() => _client.CompleteMultipartUploadAsync(complete, cancellationToken), "complete a multipart upload").ConfigureAwait(false);
                    completed = true;
                    _logger.BlobStored(hash, size, upload.Parts.Count);
                }
            }
        }
        finally
        {
            if (!completed)
            {
                await AbortAsync(key, uploadId).ConfigureAwait(false);
            }
        }

        return new BlobReference(hash, size, mediaType);
    }

    /// <summary>
    /// A stream that cannot seek and is larger than the threshold: its hash is known only after the last byte, when the
    /// parts are already stored, and S3 cannot rename an object, so the parts go to a temporary key that is then copied
    /// to the content key (conditionally) and deleted.
    /// </summary>
    private async Task<BlobReference> PutThroughTemporaryKeyAsync(List<(byte[] Buffer, int Length)> head, Stream rest, string mediaType, CancellationToken cancellationToken)
    {
        var tempKey = $"{_prefix}{TempFolder}{Guid.NewGuid():N}";
        var uploadId = await StartMultipartAsync(tempKey, mediaType, cancellationToken).ConfigureAwait(false);
        (List<PartETag> Parts, string Hash, long Size) upload;
        var completed = false;
        try
        {
            upload = await UploadPartsAsync(tempKey, uploadId, head, rest, cancellationToken).ConfigureAwait(false);
            await Call(() => _client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = _bucket,
                Key = tempKey,
                UploadId = uploadId,
                PartETags = upload.Parts,
            }, cancellationToken), "complete a multipart upload").ConfigureAwait(false);
            completed = true;
        }
        catch (Exception) when (!completed)
        {
            await AbortAsync(tempKey, uploadId).ConfigureAwait(false);
            throw;
        }

        var (parts, hash, size) = upload;
        try
        {
            var copy = new CopyObjectRequest
            {
                SourceBucket = _bucket,
                SourceKey = tempKey,
                DestinationBucket = _bucket,
                DestinationKey = KeyOf(hash),
                IfNoneMatch = "*",
            };
            try
            {
                await Call(() => _client.CopyObjectAsync(copy, cancellationToken), "copy an upload to its content key").ConfigureAwait(false);
                _logger.BlobStored(hash, size, parts.Count);
            }
            catch (S3BlobStoreException e) when (IsAlreadyStored(e))
            {
                if (!await RefreshAsync(hash, mediaType, cancellationToken).ConfigureAwait(false))
                {
                    // Collected between the conditional copy and the refresh: copy again, unconditionally (same bytes).
                    copy.IfNoneMatch = null;
                    await Call(() => _client.CopyObjectAsync(copy, cancellationToken), "copy an upload to its content key").ConfigureAwait(false);
                    _logger.BlobStored(hash, size, parts.Count);
                }
            }
        }
        finally
        {
            await DeleteTempAsync(tempKey).ConfigureAwait(false);
        }

        return new BlobReference(hash, size, mediaType);
    }

    private async Task<string> StartMultipartAsync(string key, string mediaType, CancellationToken cancellationToken)
    {
        var start = await Call(
            () => _client.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = _bucket, Key = key, ContentType = mediaType }, cancellationToken),
            "start a multipart upload").ConfigureAwait(false);
        _logger.MultipartStarted(start.UploadId, key);
        return start.UploadId;
    }

    /// <summary>
    /// Uploads the parts of a multipart upload, at most <see cref="S3BlobStoreOptions.MaxConcurrentParts"/> at a time:
    /// first the filled buffers of <paramref name="head"/> (taken over: their entries are cleared), then the rest of
    /// <paramref name="rest"/>, each part read into a buffer from the pool only once a slot is free, so the upload holds at
    /// most <c>max(head buffers, MaxConcurrentParts)</c> buffers. The bytes are hashed in order as they are read. When a
    /// part or the source fails, the parts still in flight are cancelled and awaited, and the first failure is thrown.
    /// </summary>
    private async Task<(List<PartETag> Parts, string Hash, long Size)> UploadPartsAsync(
        string key, string uploadId, List<(byte[] Buffer, int Length)> head, Stream rest, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var slots = new SemaphoreSlim(_options.MaxConcurrentParts);
        using var hasher = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var partSize = _options.PartSize;
        var sending = new List<Task<PartETag>>();
        long size = 0;
        try
        {
            var next = 0;
            var ended = false;
            while (!ended)
            {
                await slots.WaitAsync(stop.Token).ConfigureAwait(false);
                byte[] buffer;
                int n;
                if (next < head.Count)
                {
                    (buffer, n) = head[next];
                    head[next++] = default;
                }
                else
                {
                    buffer = _buffers.Rent();
                    try
                    {
                        n = await FillAsync(rest, buffer, partSize, stop.Token).ConfigureAwait(false);
                    }
                    catch
                    {
                        _buffers.Return(buffer);
                        slots.Release();
                        throw;
                    }
                }

                if (n == 0)
                {
                    _buffers.Return(buffer);
                    slots.Release();
                    break;
                }

                ended = n < partSize;
                if (sending.Count == MaxParts)
                {
                    _buffers.Return(buffer);
                    slots.Release();
                    throw TooManyParts(partSize);
                }

                hasher.AppendData(buffer, 0, n);
                size += n;
                var partNumber = sending.Count + 1;
                sending.Add(Task.Run(() => SendPartAsync(key, uploadId, partNumber, buffer, n, slots, stop.Token), CancellationToken.None));
                if (sending.Exists(t => t.IsFaulted || t.IsCanceled))
                {
                    break;
                }
            }

            var parts = await Task.WhenAll(sending).ConfigureAwait(false);
            return ([.. parts], Convert.ToHexStringLower(hasher.GetHashAndReset()), size);
        }
        catch (Exception e)
        {
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await Task.WhenAll(sending).ConfigureAwait(false);
            }
            catch (Exception) when (sending.Count > 0)
            {
                // Reported below: the first real failure, not the cancellations it caused.
            }

            var first = sending.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException!).FirstOrDefault(x => x is not OperationCanceledException);
            if (e is OperationCanceledException && first is not null && !cancellationToken.IsCancellationRequested)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
            }

            throw;
        }
    }

    private async Task<PartETag> SendPartAsync(string key, string uploadId, int partNumber, byte[] buffer, int length, SemaphoreSlim slots, CancellationToken cancellationToken)
    {
        try
        {
            using var body = new MemoryStream(buffer, 0, length, writable: false);
            var uploaded = await Call(() => _client.UploadPartAsync(new UploadPartRequest
            {
                BucketName = _bucket,
                Key = key,
                UploadId = uploadId,
                PartNumber = partNumber,
                PartSize = length,
                InputStream = body,
                UseChunkEncoding = false,
            }, cancellationToken), "upload a part").ConfigureAwait(false);
            return new PartETag(partNumber, uploaded.ETag);
        }
        finally
        {
            _buffers.Return(buffer);
            slots.Release();
        }
    }

    private static InvalidOperationException TooManyParts(int partSize) =>
        new($"The blob is larger than S3's limit of {MaxParts} parts of {partSize} bytes; raise S3BlobStoreOptions.PartSize.");

    /// <summary>
    /// Restarts the garbage collector's grace period of a blob that was stored before (as the file-system store does):
    /// the object is copied onto itself, which sets its last-modified time, so an upload that reuses an old unreferenced
    /// blob is not collected before its metadata is written.
    /// </summary>
    /// <returns>False when the blob is gone (deleted by the garbage collector in between), so the caller writes it again.</returns>
    private async Task<bool> RefreshAsync(string hash, string mediaType, CancellationToken cancellationToken)
    {
        var key = KeyOf(hash);
        try
        {
            await Call(() => _client.CopyObjectAsync(new CopyObjectRequest
            {
                SourceBucket = _bucket,
                SourceKey = key,
                DestinationBucket = _bucket,
                DestinationKey = key,
                MetadataDirective = S3MetadataDirective.REPLACE,
                ContentType = mediaType,
            }, cancellationToken), "refresh a stored blob").ConfigureAwait(false);
        }
        catch (S3BlobStoreException e) when (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")
        {
            return false;
        }

        _logger.BlobAlreadyStored(hash);
        return true;
    }

    private async Task AbortAsync(string key, string uploadId)
    {
        try
        {
            // Not cancellable: the upload's own token may be the reason we are here.
            await _client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _bucket, Key = key, UploadId = uploadId }, CancellationToken.None)
                .ConfigureAwait(false);
            _logger.MultipartAborted(uploadId, key);
        }
        catch (Exception e) when (e is AmazonServiceException or HttpRequestException or IOException)
        {
            _logger.MultipartAbortFailed(e, uploadId, key);
        }
    }

    private async Task DeleteTempAsync(string key)
    {
        try
        {
            await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _bucket, Key = key }, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AmazonServiceException or HttpRequestException or IOException)
        {
            _logger.TempDeleteFailed(e, key);
        }
    }

    /// <inheritdoc />
    public async Task<Stream> OpenReadAsync(string hash, CancellationToken cancellationToken = default)
    {
        BlobHash.Validate(hash);
        try
        {
            var response = await Call(() => _client.GetObjectAsync(new GetObjectRequest { BucketName = _bucket, Key = KeyOf(hash) }, cancellationToken), "read a blob")
                .ConfigureAwait(false);
            return new ResponseStream(response);
        }
        catch (S3BlobStoreException e) when (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")
        {
            throw new BlobNotFoundException(hash);
        }
    }

    /// <inheritdoc />
    public async Task<bool> ExistsAsync(string hash, CancellationToken cancellationToken = default)
    {
        BlobHash.Validate(hash);
        try
        {
            await Call(() => _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = _bucket, Key = KeyOf(hash) }, cancellationToken), "check a blob")
                .ConfigureAwait(false);
            return true;
        }
        catch (S3BlobStoreException e) when (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")
        {
            return false;
        }
    }

    /// <summary>
    /// Returns a presigned GET URL of the blob, valid for <paramref name="lifetime"/> capped at
    /// <see cref="S3BlobStoreOptions.MaxReadUrlLifetime"/>. Signing happens locally: no request is sent, so a missing
    /// blob gives a URL that answers 404.
    /// </summary>
    /// <param name="blob">The blob.</param>
    /// <param name="lifetime">How long the URL should stay valid; more than zero.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The URL.</returns>
    public async Task<Uri> GetReadUrlAsync(BlobReference blob, TimeSpan lifetime, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blob);
        BlobHash.Validate(blob.Hash);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(lifetime, TimeSpan.Zero);
        if (lifetime > _options.MaxReadUrlLifetime)
        {
            lifetime = _options.MaxReadUrlLifetime;
        }

        var request = new GetPreSignedUrlRequest
        {
            BucketName = _bucket,
            Key = KeyOf(blob.Hash),
            Verb = HttpVerb.GET,
            // The SDK signs with its own clock at whole seconds (X-Amz-Date) and rounds X-Amz-Expires up: start from a whole
            // second too, so the URL lives the lifetime asked for, not a second more.
            Expires = WholeSecond(_time.GetUtcNow().UtcDateTime) + lifetime,
        };
        if (_client.Config.ServiceURL is { } serviceUrl && serviceUrl.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            request.Protocol = Protocol.HTTP;
        }

        var url = await _client.GetPreSignedURLAsync(request).ConfigureAwait(false);
        return new Uri(url);
    }

    /// <inheritdoc />
    public IAsyncEnumerable<StoredBlob> ListAsync(CancellationToken cancellationToken = default) => List(cancellationToken);

    private async IAsyncEnumerable<StoredBlob> List([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string? continuation = null;
        do
        {
            // The delimiter keeps uploads in progress ('.tmp/…') and anything deeper out of the listing.
            var request = new ListObjectsV2Request
            {
                BucketName = _bucket,
                Prefix = _prefix,
                Delimiter = "/",
                MaxKeys = _options.ListPageSize,
                ContinuationToken = continuation,
            };
            var page = await Call(() => _client.ListObjectsV2Async(request, cancellationToken), "list blobs").ConfigureAwait(false);
            foreach (var item in page.S3Objects ?? [])
            {
                var name = item.Key.Length > _prefix.Length && item.Key.StartsWith(_prefix, StringComparison.Ordinal) ? item.Key[_prefix.Length..] : null;
                if (!BlobHash.IsValid(name))
                {
                    continue;
                }

                var modified = item.LastModified is { } m ? new DateTimeOffset(DateTime.SpecifyKind(m.ToUniversalTime(), DateTimeKind.Utc)) : DateTimeOffset.MinValue;
                yield return new StoredBlob(name!, item.Size ?? 0, modified);
            }

            continuation = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (continuation is not null);
    }

    /// <inheritdoc />
    public async Task DeleteAsync(string hash, CancellationToken cancellationToken = default)
    {
        BlobHash.Validate(hash);

        // S3 answers 204 for a missing key too, so deleting a missing blob does nothing.
        await Call(() => _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _bucket, Key = KeyOf(hash) }, cancellationToken), "delete a blob")
            .ConfigureAwait(false);
        _logger.BlobDeleted(hash);
    }

    /// <summary>Lists at most one key under the store's prefix: the health check's probe of address, credentials and bucket.</summary>
    /// <param name="cancellationToken">Cancels the probe.</param>
    /// <returns>A task that completes when the service answered.</returns>
    /// <exception cref="S3BlobStoreException">The service refused the listing; the message says what to fix.</exception>
    internal Task ProbeAsync(CancellationToken cancellationToken) =>
        Call(() => _client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _bucket, Prefix = _prefix, MaxKeys = 1 }, cancellationToken), "list blobs");

    /// <summary>Disposes the S3 client when the store created it.</summary>
    public void Dispose()
    {
        if (_ownsClient)
        {
            _client.Dispose();
        }
    }

    private static DateTime WholeSecond(DateTime time) => new(time.Ticks - (time.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);

    private string KeyOf(string hash)
    {
        BlobHash.Validate(hash);
        return _prefix + hash;
    }

    private static bool IsAlreadyStored(S3BlobStoreException e) => e.StatusCode == HttpStatusCode.PreconditionFailed;

    /// <summary>Runs an S3 call, turning service errors into <see cref="S3BlobStoreException"/> with a message that says what to do.</summary>
    private async Task<T> Call<T>(Func<Task<T>> call, string operation)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (AmazonS3Exception e)
        {
            throw Translate(e, operation);
        }
    }

    private S3BlobStoreException Translate(AmazonS3Exception e, string operation)
    {
        var where = $"bucket '{_bucket}'";
        var fix = e.ErrorCode switch
        {
            "SignatureDoesNotMatch" => "the secret key does not match the access key: check S3BlobStoreOptions.SecretKey (or the AWS credentials in the environment)",
            "InvalidAccessKeyId" => "the service does not know the access key: check S3BlobStoreOptions.AccessKey (or the AWS credentials in the environment)",
            "AccessDenied" => "the credentials may not do this: grant s3:GetObject, s3:PutObject, s3:DeleteObject, s3:ListBucket and s3:AbortMultipartUpload on the bucket",
            "NoSuchBucket" => "the bucket does not exist: create it, or fix S3BlobStoreOptions.BucketName",
            "RequestTimeTooSkewed" => "the machine's clock is off: synchronise it",
            "PermanentRedirect" or "AuthorizationHeaderMalformed" => "the bucket is in another region: fix S3BlobStoreOptions.Region",
            _ => e.StatusCode >= HttpStatusCode.InternalServerError || e.ErrorCode == "SlowDown" ? "the service failed or is throttling: try again later" : "see the inner exception",
        };
        return new S3BlobStoreException(
            $"S3 refused to {operation} in {where} ({(int)e.StatusCode} {e.ErrorCode}: {e.Message.TrimEnd('.')}); {fix}.",
            e.ErrorCode,
            e.StatusCode,
            e);
    }

    private static async Task<int> FillAsync(Stream source, byte[] buffer, int count, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < count)
        {
            var n = await source.ReadAsync(buffer.AsMemory(total, count - total), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    /// <summary>The body of a GET; disposing it releases the response.</summary>
    private sealed class ResponseStream(GetObjectResponse response) : Stream
    {
        private readonly Stream _inner = response.ResponseStream;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => response.ContentLength;
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
        public override int Read(Span<byte> buffer) => _inner.Read(buffer);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _inner.ReadAsync(buffer, cancellationToken);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _inner.ReadAsync(buffer, offset, count, cancellationToken);
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
                response.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
