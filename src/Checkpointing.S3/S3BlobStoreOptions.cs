using Amazon.Runtime;
using Amazon.S3;

namespace Checkpointing.S3;

/// <summary>
/// Options of the <see cref="S3BlobStore"/>: where the blobs live (bucket, key prefix), how to reach the service
/// (Amazon S3 by <see cref="Region"/>, or any S3-compatible service by <see cref="ServiceUrl"/>), and how uploads and
/// read URLs behave. Validated at start-up; every problem is reported at once.
/// </summary>
public sealed class S3BlobStoreOptions
{
    /// <summary>One mebibyte (1024 × 1024 bytes).</summary>
    public const int MiB = 1024 * 1024;

    /// <summary>The smallest part S3 accepts in a multipart upload (except the last part): 5 MiB.</summary>
    public const int MinPartSize = 5 * MiB;

    /// <summary>The largest <see cref="PartSize"/> and <see cref="MultipartThreshold"/> this store allows (both are held in memory): 1 GiB.</summary>
    public const int MaxBufferSize = 1024 * MiB;

    /// <summary>The largest <see cref="MaxConcurrentParts"/>: 64.</summary>
    public const int MaxPartConcurrency = 64;

    /// <summary>The bucket that holds the blobs. It must exist; the store never creates or deletes buckets.</summary>
    /// <value>Default: null (required). 3-63 characters from a-z, 0-9, '.' and '-'.</value>
    public string? BucketName { get; set; }

    /// <summary>
    /// Prepended to every object key, so several stores (or other data) can share a bucket: a blob is stored at
    /// <c>{KeyPrefix}{sha256}</c>, uploads in progress under <c>{KeyPrefix}.tmp/</c>.
    /// </summary>
    /// <value>Default: empty. When set it ends with '/', does not start with '/', and uses only a-z, A-Z, 0-9 and <c>/ ! - _ . * ' ( )</c>.</value>
    public string KeyPrefix { get; set; } = "";

    /// <summary>
    /// The endpoint of an S3-compatible service (MinIO, Ceph, Cloudflare R2, Backblaze B2, a local emulator …), e.g.
    /// <c>http://127.0.0.1:9000</c>. Leave empty for Amazon S3 itself.
    /// </summary>
    /// <value>Default: null (Amazon S3, endpoint chosen from <see cref="Region"/>).</value>
    public string? ServiceUrl { get; set; }

    /// <summary>
    /// The region: for Amazon S3 the bucket's region (e.g. <c>eu-west-1</c>); with <see cref="ServiceUrl"/> the region
    /// requests are signed for (most S3-compatible services expect <c>us-east-1</c>).
    /// </summary>
    /// <value>Default: null. Required when <see cref="ServiceUrl"/> is empty; <c>us-east-1</c> is used when it is set.</value>
    public string? Region { get; set; }

    /// <summary>Whether the bucket goes in the path (<c>http://host/bucket/key</c>) instead of the host name (<c>http://bucket.host/key</c>).</summary>
    /// <value>Default: false. Most S3-compatible services and emulators need true.</value>
    public bool ForcePathStyle { get; set; }

    /// <summary>
    /// When the SDK adds a checksum (CRC32 …) to uploads. Many S3-compatible services do not understand the checksums
    /// the SDK adds by default since AWSSDK.S3 v4: set <see cref="RequestChecksumCalculation.WHEN_REQUIRED"/> for them.
    /// </summary>
    /// <value>Default: null, the SDK's own default (<c>WHEN_SUPPORTED</c>, or the <c>AWS_REQUEST_CHECKSUM_CALCULATION</c> environment variable).</value>
    public RequestChecksumCalculation? ChecksumCalculation { get; set; }

    /// <summary>The access key id. Leave both keys empty to use the SDK's default credentials (environment, profile, instance role …).</summary>
    /// <value>Default: null.</value>
    public string? AccessKey { get; set; }

    /// <summary>The secret access key, set together with <see cref="AccessKey"/>. Never logged.</summary>
    /// <value>Default: null.</value>
    public string? SecretKey { get; set; }

    /// <summary>
    /// Blobs up to this size are uploaded with one PUT; larger ones with a multipart upload. Up to
    /// <c>MultipartThreshold + 1</c> bytes of an upload are read into part buffers (whole <see cref="PartSize"/> buffers,
    /// so <c>⌈(MultipartThreshold + 1) / PartSize⌉</c> of them) to decide.
    /// </summary>
    /// <value>Default: 16 MiB. Between 0 and 1 GiB (below <see cref="PartSize"/> a blob may go up as a multipart upload of one part).</value>
    public int MultipartThreshold { get; set; } = 16 * MiB;

    /// <summary>
    /// The size of each part of a multipart upload, and of each of the store's part buffers (allocated at exactly this
    /// size and reused). S3 allows 10,000 parts, so the largest blob is <c>PartSize × 10,000</c> (about 62 GB by default).
    /// </summary>
    /// <value>Default: 6 MiB. Between 5 MiB and 1 GiB.</value>
    public int PartSize { get; set; } = 6 * MiB;

    /// <summary>
    /// How many parts of one multipart upload are sent at the same time. Each part in flight holds one part buffer, so an
    /// upload holds at most <c>max(MaxConcurrentParts, ⌈(MultipartThreshold + 1) / PartSize⌉) × PartSize</c> bytes
    /// (24 MiB with the defaults), whatever the size of the blob.
    /// </summary>
    /// <value>Default: 4. Between 1 and 64.</value>
    public int MaxConcurrentParts { get; set; } = 4;

    /// <summary>The longest lifetime a presigned read URL gets; longer requests are shortened to it.</summary>
    /// <value>Default: 1 hour. More than zero and at most 7 days (the SigV4 limit).</value>
    public TimeSpan MaxReadUrlLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How many keys one list request asks for.</summary>
    /// <value>Default: 1000 (the S3 maximum). Between 1 and 1000.</value>
    public int ListPageSize { get; set; } = 1000;

    /// <summary>
    /// Adjusts the <see cref="AmazonS3Config"/> of a client the store builds itself (timeouts, proxy, retries, an
    /// <see cref="HttpClientFactory"/> …); not used when the client comes from DI or the constructor.
    /// </summary>
    /// <value>Default: null.</value>
    public Action<AmazonS3Config>? ConfigureClient { get; set; }
}
