using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Checkpointing;

/// <summary>
/// Deletes blobs that no artifact version or journal entry references. Blobs are uploaded before the metadata that
/// points to them, so only blobs older than a grace period are deleted: a blob written for a checkpoint that is still
/// being committed is never taken.
/// </summary>
/// <param name="store">The metadata store that knows which blobs are referenced.</param>
/// <param name="blobs">The blob store to clean.</param>
/// <param name="time">The clock.</param>
/// <param name="logger">The logger.</param>
public sealed class BlobGarbageCollector(ICheckpointStore store, IBlobStore blobs, TimeProvider? time = null, ILogger<BlobGarbageCollector>? logger = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ILogger _logger = logger ?? NullLogger<BlobGarbageCollector>.Instance;

    /// <summary>Deletes unreferenced blobs last written more than <paramref name="gracePeriod"/> ago.</summary>
    /// <param name="gracePeriod">How old an unreferenced blob must be before it is deleted; at least one minute is wise.</param>
    /// <param name="cancellationToken">Cancels the collection (blobs deleted so far stay deleted).</param>
    /// <returns>The hashes deleted.</returns>
    public async Task<IReadOnlyList<string>> CollectAsync(TimeSpan gracePeriod, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(gracePeriod, TimeSpan.Zero);
        var cutoff = _time.GetUtcNow() - gracePeriod;

        // List blobs first: a blob written after this listing is not considered at all.
        var candidates = new List<StoredBlob>();
        await foreach (var blob in blobs.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            if (blob.LastModified <= cutoff)
            {
                candidates.Add(blob);
            }
        }

        var referenced = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var hash in store.ListReferencedBlobsAsync(cancellationToken).ConfigureAwait(false))
        {
            referenced.Add(hash);
        }

        var deleted = new List<string>();
        foreach (var blob in candidates.Where(b => !referenced.Contains(b.Hash)))
        {
            await blobs.DeleteAsync(blob.Hash, cancellationToken).ConfigureAwait(false);
            deleted.Add(blob.Hash);
        }

        _logger.BlobsCollected(deleted.Count, candidates.Count);
        return deleted;
    }
}
