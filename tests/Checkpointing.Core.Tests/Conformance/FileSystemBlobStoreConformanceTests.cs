using Checkpointing.Conformance;

namespace Checkpointing.Tests.Conformance;

/// <summary>The file-system blob store, on a fresh temporary folder per test, against the blob conformance suite.</summary>
public sealed class FileSystemBlobStoreConformanceTests : BlobStoreConformanceTests
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "checkpointing-blobs-" + Guid.NewGuid().ToString("N"));

    protected override Task<IBlobStore> CreateStoreAsync() => Task.FromResult<IBlobStore>(new FileSystemBlobStore(_root));

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task Blobs_live_under_the_root_folder_named_by_their_hash()
    {
        var reference = await PutAsync(Bytes(64, 9));

        Assert.True(File.Exists(Path.Combine(_root, reference.Hash[..2], reference.Hash)));
    }
}
