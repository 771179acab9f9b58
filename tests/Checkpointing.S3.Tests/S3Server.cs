using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Checkpointing.S3.Tests;

/// <summary>
/// The S3-compatible server the tests use: <c>CHECKPOINTING_S3_URL</c> with <c>CHECKPOINTING_S3_ACCESS_KEY</c> /
/// <c>CHECKPOINTING_S3_SECRET_KEY</c> (test.sh starts a patched s3rver emulator and sets them), else an emulator on
/// http://127.0.0.1:4568 with the account S3RVER / S3RVER. Without a server every test that needs one fails and says
/// how to get one.
/// </summary>
internal static class S3Server
{
    public const string UrlVariable = "CHECKPOINTING_S3_URL";
    public const string AccessKeyVariable = "CHECKPOINTING_S3_ACCESS_KEY";
    public const string SecretKeyVariable = "CHECKPOINTING_S3_SECRET_KEY";
    public const string LocalDefault = "http://127.0.0.1:4568";
    public const string Bucket = "checkpointing-tests";

    private static readonly Lazy<Task> Check = new(() => EnsureAvailableAsync(Url, Variable(UrlVariable) is not null));

    public static string Url => Variable(UrlVariable) ?? LocalDefault;
    public static string AccessKey => Variable(AccessKeyVariable) ?? "S3RVER";
    public static string SecretKey => Variable(SecretKeyVariable) ?? "S3RVER";

    /// <summary>Fails with a clear message when no server answers; creates the test bucket (checked once per test run).</summary>
    public static Task RequireAsync() => Check.Value;

    /// <summary>Options for a store on the test server under a fresh key prefix.</summary>
    public static S3BlobStoreOptions Options(string? prefix = null) => new()
    {
        BucketName = Bucket,
        KeyPrefix = prefix ?? NewPrefix(),
        ServiceUrl = Url,
        Region = "us-east-1",
        ForcePathStyle = true,
        ChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
        AccessKey = AccessKey,
        SecretKey = SecretKey,
    };

    public static string NewPrefix() => $"t-{Guid.NewGuid():N}/";

    /// <summary>A raw client, to look at what the store wrote.</summary>
    public static AmazonS3Client CreateClient(HttpClientFactory? factory = null)
    {
        var config = S3BlobStore.CreateClientConfig(Options());
        if (factory is not null)
        {
            config.HttpClientFactory = factory;
        }

        return new AmazonS3Client(new BasicAWSCredentials(AccessKey, SecretKey), config);
    }

    /// <summary>Every key under a prefix, with no delimiter (temporary keys included).</summary>
    public static async Task<List<string>> KeysAsync(string prefix)
    {
        using var client = CreateClient();
        var keys = new List<string>();
        string? token = null;
        do
        {
            var page = await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = Bucket, Prefix = prefix, ContinuationToken = token });
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);
        return keys;
    }

    private static string? Variable(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;

    internal static async Task EnsureAvailableAsync(string url, bool fromVariable)
    {
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            using var _ = await http.GetAsync(new Uri(url));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or UriFormatException)
        {
            throw new InvalidOperationException(
                $"No S3-compatible server answered at {url} ({(fromVariable ? $"from {UrlVariable}" : $"the local default; {UrlVariable} is not set")}): {e.Message.TrimEnd('.')}. " +
                $"Run ./test.sh, which starts a patched s3rver emulator, or set {UrlVariable}, {AccessKeyVariable} and {SecretKeyVariable} to a server where you may create the bucket '{Bucket}'.",
                e);
        }

        using var client = CreateClient();
        try
        {
            await client.PutBucketAsync(new PutBucketRequest { BucketName = Bucket });
        }
        catch (AmazonS3Exception e) when (e.ErrorCode is "BucketAlreadyOwnedByYou" or "BucketAlreadyExists")
        {
            // Created by an earlier run against the same server.
        }
    }
}
