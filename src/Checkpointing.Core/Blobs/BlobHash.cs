using System.Buffers;
using System.Security.Cryptography;

namespace Checkpointing;

/// <summary>Helpers for the SHA-256 hashes that name blobs.</summary>
public static class BlobHash
{
    /// <summary>Tells whether <paramref name="hash"/> is 64 lower-case hex characters.</summary>
    /// <param name="hash">The value to check.</param>
    public static bool IsValid(string? hash)
    {
        if (hash is null || hash.Length != 64)
        {
            return false;
        }

        foreach (var c in hash)
        {
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Throws unless <paramref name="hash"/> is a valid blob hash, so no caller can build a path from arbitrary input.</summary>
    /// <param name="hash">The value to check.</param>
    /// <exception cref="ArgumentException">The value is not 64 lower-case hex characters.</exception>
    public static void Validate(string hash)
    {
        if (!IsValid(hash))
        {
            throw new ArgumentException($"'{hash}' is not a blob hash: expected 64 lower-case hex characters (SHA-256).", nameof(hash));
        }
    }

    /// <summary>Computes the hash of some bytes.</summary>
    /// <param name="bytes">The bytes.</param>
    public static string Compute(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>Copies <paramref name="source"/> to <paramref name="destination"/> while hashing it.</summary>
    /// <param name="source">Read to its end.</param>
    /// <param name="destination">Written to.</param>
    /// <param name="cancellationToken">Cancels the copy.</param>
    /// <returns>The hash and the number of bytes copied.</returns>
    public static async Task<(string Hash, long Size)> CopyAndHashAsync(Stream source, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        using var hasher = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(81920);
        long size = 0;
        try
        {
            int read;
            while ((read = await source.ReadAsync(buffer.AsMemory(0, buffer.Length), cancellationToken).ConfigureAwait(false)) > 0)
            {
                hasher.AppendData(buffer, 0, read);
                await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                size += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return (Convert.ToHexStringLower(hasher.GetHashAndReset()), size);
    }
}
