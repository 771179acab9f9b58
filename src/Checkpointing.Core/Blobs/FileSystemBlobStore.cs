using System.Runtime.CompilerServices;
using Microsoft.Extensions.Options;

namespace Checkpointing;

/// <summary>Options of the <see cref="FileSystemBlobStore"/>.</summary>
public sealed class FileSystemBlobStoreOptions
{
    /// <summary>The folder that holds the blobs. Created when missing.</summary>
    /// <value>Default: <c>checkpointing-blobs</c> under the current directory.</value>
    public string RootPath { get; set; } = "checkpointing-blobs";
}

/// <summary>
/// A blob store on the local file system: each blob is a file named by its SHA-256 under
/// <c>{root}/{hash[0..2]}/{hash}</c>. Writes go to a temporary file that is renamed into place, so a crash never
/// leaves a partial blob visible. No path is ever built from anything but a validated hash.
/// </summary>
public sealed class FileSystemBlobStore : IBlobStore
{
    private const string TempFolder = ".tmp";
    private readonly string _root;

    /// <summary>Creates the store.</summary>
    /// <param name="options">The options.</param>
    public FileSystemBlobStore(IOptions<FileSystemBlobStoreOptions> options)
        : this(options?.Value.RootPath ?? throw new ArgumentNullException(nameof(options)))
    {
    }

    /// <summary>Creates the store on a folder.</summary>
    /// <param name="rootPath">The folder that holds the blobs.</param>
    public FileSystemBlobStore(string rootPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(rootPath);
        _root = Path.GetFullPath(rootPath);
        Directory.CreateDirectory(Path.Combine(_root, TempFolder));
    }

    /// <summary>The full path of the root folder.</summary>
    public string RootPath => _root;

    /// <inheritdoc />
    public async Task<BlobReference> PutAsync(Stream content, string mediaType, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentException.ThrowIfNullOrWhiteSpace(mediaType);
        var tempPath = Path.Combine(_root, TempFolder, Guid.NewGuid().ToString("N"));
        try
        {
            string hash;
            long size;
            var file = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous);
            await using (file.ConfigureAwait(false))
            {
                (hash, size) = await BlobHash.CopyAndHashAsync(content, file, cancellationToken).ConfigureAwait(false);
                await file.FlushAsync(cancellationToken).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }

            var finalPath = PathOf(hash);
            if (File.Exists(finalPath))
            {
                // Stored before: refresh its time so the garbage collector's grace period starts again for this upload.
                File.SetLastWriteTimeUtc(finalPath, DateTime.UtcNow);
            }
            else
            {
                Directory.CreateDirectory(Path.GetDirectoryName(finalPath)!);
                try
                {
                    File.Move(tempPath, finalPath, overwrite: false);
                }
                catch (IOException) when (File.Exists(finalPath))
                {
                    // Another writer stored the same content first: identical bytes, nothing to do.
                }
            }

            return new BlobReference(hash, size, mediaType);
        }
        finally
        {
            if (File.Exists(tempPath))
            {
                File.Delete(tempPath);
            }
        }
    }

    /// <inheritdoc />
    public Task<Stream> OpenReadAsync(string hash, CancellationToken cancellationToken = default)
    {
        BlobHash.Validate(hash);
        try
        {
            Stream stream = new FileStream(PathOf(hash), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 81920, FileOptions.Asynchronous);
            return Task.FromResult(stream);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new BlobNotFoundException(hash);
        }
    }

    /// <inheritdoc />
    public Task<bool> ExistsAsync(string hash, CancellationToken cancellationToken = default)
    {
        BlobHash.Validate(hash);
        return Task.FromResult(File.Exists(PathOf(hash)));
    }

    /// <inheritdoc />
    public Task<Uri> GetReadUrlAsync(BlobReference blob, TimeSpan lifetime, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blob);
        BlobHash.Validate(blob.Hash);
        var path = PathOf(blob.Hash);
        if (!File.Exists(path))
        {
            throw new BlobNotFoundException(blob.Hash);
        }

        return Task.FromResult(new Uri(path));
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<StoredBlob> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        foreach (var dir in Directory.EnumerateDirectories(_root))
        {
            if (Path.GetFileName(dir) == TempFolder)
            {
                continue;
            }

            foreach (var file in Directory.EnumerateFiles(dir))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var name = Path.GetFileName(file);
                if (!BlobHash.IsValid(name))
                {
                    continue;
                }

                var info = new FileInfo(file);
                yield return new StoredBlob(name, info.Length, info.LastWriteTimeUtc);
            }
        }
    }

    /// <inheritdoc />
    public Task DeleteAsync(string hash, CancellationToken cancellationToken = default)
    {
        BlobHash.Validate(hash);
        try
        {
            File.Delete(PathOf(hash));
        }
        catch (DirectoryNotFoundException)
        {
            // No blob shares the hash's prefix folder: the blob is missing, and deleting it does nothing.
        }

        return Task.CompletedTask;
    }

    private string PathOf(string hash) => Path.Combine(_root, hash[..2], hash);
}
