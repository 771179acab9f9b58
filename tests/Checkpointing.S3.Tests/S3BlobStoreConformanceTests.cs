using Checkpointing.Conformance;

namespace Checkpointing.S3.Tests;

/// <summary>The S3 store against Core's blob-store conformance suite, on the test server, under a fresh key prefix per test.</summary>
public sealed class S3BlobStoreConformanceTests : BlobStoreConformanceTests
{
    protected override async Task<IBlobStore> CreateStoreAsync()
    {
        await S3Server.RequireAsync();
        return new S3BlobStore(S3Server.Options());
    }
}

/// <summary>
/// The suite again with a multipart threshold of 1 MiB, so its larger blobs (2 and 3 MiB) go through the multipart path
/// (temporary key, conditional copy), and a list page of 2 keys, so listings follow continuation tokens.
/// </summary>
public sealed class S3BlobStoreMultipartConformanceTests : BlobStoreConformanceTests
{
    protected override async Task<IBlobStore> CreateStoreAsync()
    {
        await S3Server.RequireAsync();
        var options = S3Server.Options();
        options.MultipartThreshold = S3BlobStoreOptions.MiB;
        options.PartSize = S3BlobStoreOptions.MinPartSize;
        options.ListPageSize = 2;
        return new S3BlobStore(options);
    }
}
