using System.Security.Cryptography;

namespace Checkpointing.Conformance;

/// <summary>
/// The behaviour every <see cref="IBlobStore"/> must have. A provider's test project derives from this class and
/// implements <see cref="StoreConformanceTests{TStore}.CreateStoreAsync"/>; each test gets a fresh, empty store.
/// </summary>
public abstract class BlobStoreConformanceTests : StoreConformanceTests<IBlobStore>
{
    /// <summary>
    /// Reads the bytes behind a URL returned by <see cref="IBlobStore.GetReadUrlAsync"/>. Handles <c>file:</c> and
    /// <c>http(s):</c> URLs; override for other schemes.
    /// </summary>
    /// <param name="url">The URL.</param>
    protected virtual async Task<byte[]> ReadUrlAsync(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (url.IsFile)
        {
            return await File.ReadAllBytesAsync(url.LocalPath, Ct);
        }

        using var http = new HttpClient();
        return await http.GetByteArrayAsync(url, Ct);
    }

    /// <summary>Random bytes of the given length, reproducible from <paramref name="seed"/>.</summary>
    protected static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Stores bytes and returns the reference.</summary>
    protected async Task<BlobReference> PutAsync(byte[] bytes, string mediaType = MediaTypes.OctetStream)
    {
        using var stream = new MemoryStream(bytes, writable: false);
        return await Store.PutAsync(stream, mediaType, Ct);
    }

    /// <summary>Reads a whole blob.</summary>
    protected async Task<byte[]> ReadAsync(string hash)
    {
        var stream = await Store.OpenReadAsync(hash, Ct);
        await using (stream)
        {
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy, Ct);
            return copy.ToArray();
        }
    }

    /// <summary>Lists every stored blob.</summary>
    protected async Task<List<StoredBlob>> ListAsync()
    {
        var list = new List<StoredBlob>();
        await foreach (var blob in Store.ListAsync(Ct))
        {
            list.Add(blob);
        }

        return list;
    }

    /// <summary>Put then read back gives the same bytes.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1000)]
    [InlineData(3 * 1024 * 1024 + 17)]
    public async Task Put_then_read_back_gives_the_same_bytes(int length)
    {
        var bytes = Bytes(length, length);

        var reference = await PutAsync(bytes, MediaTypes.Png);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), reference.Hash);
        Assert.Equal(length, reference.Size);
        Assert.Equal(MediaTypes.Png, reference.MediaType);
        Assert.Equal(bytes, await ReadAsync(reference.Hash));
    }

    /// <summary>Put reads a non seekable stream to its end.</summary>
    [Fact]
    public async Task Put_reads_a_non_seekable_stream_to_its_end()
    {
        var bytes = Bytes(2 * 1024 * 1024 + 5, 7);

        await using var stream = new ForwardOnlyStream(bytes);
        var reference = await Store.PutAsync(stream, MediaTypes.Mp4, Ct);

        Assert.Equal(bytes.Length, reference.Size);
        Assert.Equal(bytes, await ReadAsync(reference.Hash));
    }

    /// <summary>Identical content is stored once.</summary>
    [Fact]
    public async Task Identical_content_is_stored_once()
    {
        var bytes = Bytes(50_000, 3);

        var first = await PutAsync(bytes, MediaTypes.Png);
        var second = await PutAsync(bytes.ToArray(), MediaTypes.Png);
        var other = await PutAsync(Bytes(50_000, 4));

        Assert.Equal(first.Hash, second.Hash);
        Assert.NotEqual(first.Hash, other.Hash);
        var listed = await ListAsync();
        Assert.Equal(2, listed.Count);
        Assert.Single(listed, b => b.Hash == first.Hash);
        Assert.Equal(bytes, await ReadAsync(first.Hash));
    }

    /// <summary>Concurrent puts of identical content store it once.</summary>
    [Fact]
    public async Task Concurrent_puts_of_identical_content_store_it_once()
    {
        var bytes = Bytes(1024 * 1024, 11);

        var references = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => PutAsync(bytes), Ct)));

        Assert.Single(references.Select(r => r.Hash).Distinct());
        var blob = Assert.Single(await ListAsync());
        Assert.Equal(bytes.Length, blob.Size);
        Assert.Equal(bytes, await ReadAsync(blob.Hash));
    }

    /// <summary>Exists tells stored from missing.</summary>
    [Fact]
    public async Task Exists_tells_stored_from_missing()
    {
        var reference = await PutAsync(Bytes(10, 1));

        Assert.True(await Store.ExistsAsync(reference.Hash, Ct));
        Assert.False(await Store.ExistsAsync(BlobHash.Compute(Bytes(10, 2)), Ct));
    }

    /// <summary>Reading a missing blob throws BlobNotFound.</summary>
    [Fact]
    public async Task Reading_a_missing_blob_throws_BlobNotFound()
    {
        await PutAsync(Bytes(10, 1));
        var missing = BlobHash.Compute(Bytes(10, 2));

        var e = await Assert.ThrowsAsync<BlobNotFoundException>(() => Store.OpenReadAsync(missing, Ct));

        Assert.Equal(missing, e.Hash);
    }

    /// <summary>An invalid hash is refused with ArgumentException.</summary>
    [Theory]
    [InlineData("../x")]
    [InlineData("../../etc/passwd")]
    [InlineData("ab/cd")]
    [InlineData("")]
    [InlineData("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")]
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85")]
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85/")]
    public async Task An_invalid_hash_is_refused_with_ArgumentException(string hash)
    {
        await PutAsync([]);

        await Assert.ThrowsAnyAsync<ArgumentException>(() => Store.OpenReadAsync(hash, Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Store.ExistsAsync(hash, Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Store.DeleteAsync(hash, Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Store.GetReadUrlAsync(new BlobReference(hash, 0, MediaTypes.Png), TimeSpan.FromMinutes(5), Ct));
        Assert.Single(await ListAsync());
    }

    /// <summary>A read url reads the blob.</summary>
    [Fact]
    public async Task A_read_url_reads_the_blob()
    {
        var bytes = Bytes(4096, 5);
        var reference = await PutAsync(bytes, MediaTypes.Png);

        var url = await Store.GetReadUrlAsync(reference, TimeSpan.FromMinutes(5), Ct);

        Assert.True(url.IsAbsoluteUri);
        Assert.Equal(bytes, await ReadUrlAsync(url));
    }

    /// <summary>Delete removes the blob and ignores missing ones.</summary>
    [Fact]
    public async Task Delete_removes_the_blob_and_ignores_missing_ones()
    {
        var kept = await PutAsync(Bytes(100, 1));
        var deleted = await PutAsync(Bytes(100, 2));

        await Store.DeleteAsync(deleted.Hash, Ct);
        await Store.DeleteAsync(deleted.Hash, Ct);
        await Store.DeleteAsync(BlobHash.Compute(Bytes(100, 3)), Ct);

        Assert.False(await Store.ExistsAsync(deleted.Hash, Ct));
        await Assert.ThrowsAsync<BlobNotFoundException>(() => Store.OpenReadAsync(deleted.Hash, Ct));
        Assert.Equal([kept.Hash], (await ListAsync()).Select(b => b.Hash));
        Assert.True(await Store.ExistsAsync(kept.Hash, Ct));

        // Deleted content can be stored again.
        Assert.Equal(deleted.Hash, (await PutAsync(Bytes(100, 2))).Hash);
        Assert.Equal(Bytes(100, 2), await ReadAsync(deleted.Hash));
    }

    /// <summary>List returns every blob with its size and write time.</summary>
    [Fact]
    public async Task List_returns_every_blob_with_its_size_and_write_time()
    {
        var before = DateTimeOffset.UtcNow.AddMinutes(-5);
        var a = await PutAsync(Bytes(10, 1));
        var b = await PutAsync(Bytes(2000, 2));
        var c = await PutAsync([]);

        var listed = await ListAsync();

        Assert.Equal(new[] { a.Hash, b.Hash, c.Hash }.Order(StringComparer.Ordinal), listed.Select(x => x.Hash).Order(StringComparer.Ordinal));
        Assert.Equal(2000, listed.Single(x => x.Hash == b.Hash).Size);
        Assert.Equal(0, listed.Single(x => x.Hash == c.Hash).Size);
        Assert.All(listed, x => Assert.InRange(x.LastModified, before, DateTimeOffset.UtcNow.AddMinutes(5)));
    }

    /// <summary>An empty store lists nothing.</summary>
    [Fact]
    public async Task An_empty_store_lists_nothing()
    {
        Assert.Empty(await ListAsync());
        Assert.False(await Store.ExistsAsync(BlobHash.Compute([]), Ct));
    }

    /// <summary>A stream that can only be read forwards, in small chunks, like a network response.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : Stream
    {
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(Math.Min(count, 7919), bytes.Length - _position);
            Array.Copy(bytes, _position, buffer, offset, n);
            _position += n;
            return n;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
