namespace Checkpointing.Storage;

/// <summary>
/// Content-addressed storage for artifact bytes. Blobs are named by the SHA-256 of their bytes, so identical
/// content is stored once and a branch that shares an artifact shares its storage.
/// </summary>
public interface IBlobStore
{
    /// <summary>
    /// Stores the bytes read from <paramref name="content"/> (streamed, not buffered whole) unless a blob with the same
    /// hash exists. The bytes are written completely before the blob becomes visible.
    /// </summary>
    /// <param name="content">The bytes; read to its end, not disposed.</param>
    /// <param name="mediaType">The media type to record.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The blob's reference.</returns>
    Task<BlobReference> PutAsync(Stream content, string mediaType, CancellationToken cancellationToken = default);

    /// <summary>Opens a blob for reading.</summary>
    /// <param name="hash">The blob's hash.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A stream the caller disposes.</returns>
    /// <exception cref="BlobNotFoundException">The blob does not exist.</exception>
    Task<Stream> OpenReadAsync(string hash, CancellationToken cancellationToken = default);

    /// <summary>Tells whether a blob exists.</summary>
    /// <param name="hash">The blob's hash.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<bool> ExistsAsync(string hash, CancellationToken cancellationToken = default);

    /// <summary>Returns a short-lived URL that reads the blob (a presigned URL, or a file URL for local storage).</summary>
    /// <param name="blob">The blob.</param>
    /// <param name="lifetime">How long the URL should stay valid.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<Uri> GetReadUrlAsync(BlobReference blob, TimeSpan lifetime, CancellationToken cancellationToken = default);

    /// <summary>Lists the stored blobs with their last write time (for garbage collection).</summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    IAsyncEnumerable<StoredBlob> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes a blob; deleting a missing blob does nothing.</summary>
    /// <param name="hash">The blob's hash.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task DeleteAsync(string hash, CancellationToken cancellationToken = default);
}

/// <summary>A blob as listed by <see cref="IBlobStore.ListAsync"/>.</summary>
/// <param name="Hash">The blob's hash.</param>
/// <param name="Size">Its length in bytes.</param>
/// <param name="LastModified">When it was written.</param>
public sealed record StoredBlob(string Hash, long Size, DateTimeOffset LastModified);
