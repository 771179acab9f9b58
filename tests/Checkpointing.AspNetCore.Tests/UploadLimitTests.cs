using System.Net;
using Checkpointing.AspNetCore.Tests.Support;
using P = Checkpointing.AspNetCore.CheckpointingProblemTypes;

namespace Checkpointing.AspNetCore.Tests;

/// <summary>Alone in its collection: it measures the process's allocations, which parallel tests would blur.</summary>
[CollectionDefinition(nameof(MemoryMeasured), DisableParallelization = true)]
public sealed class MemoryMeasured;

[Collection(nameof(MemoryMeasured))]
public abstract class UploadLimitTests(StoreKind kind) : IAsyncLifetime
{
    private const long UploadBytes = 200L * 1024 * 1024;

    private ApiHost? _host;

    public async ValueTask InitializeAsync() => _host = await ApiHost.StartAsync(kind);

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task A_200_MB_upload_is_refused_with_413_in_bounded_memory_and_changes_nothing()
    {
        var host = _host!;
        using var client = host.Client("alice");
        var (runId, plan) = await ApiTests.StartAsync(client, beats: 1);
        var storyboard = (await (await client.PostJsonAsync($"api/checkpoints/{plan}/continue")).JsonAsync()).GetProperty("checkpoint").GetProperty("id").GetGuid();
        var before = await host.SnapshotAsync(runId);
        using var body = new RandomPngStream(UploadBytes);

        GC.Collect();
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var response = await client.UploadAsync($"api/checkpoints/{storyboard}/artifacts/beat_image/beat_1/content", body);
        var problem = await response.ProblemAsync(413, P.ContentTooLarge);
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;

        // The server read past the artifact type's 64 MiB limit before refusing: the upload was streamed, not buffered.
        Assert.True(body.Position > ReviewPipeline.MaxImageBytes, $"only {body.Position} bytes were sent");
        Assert.Equal(ReviewPipeline.MaxImageBytes, problem.GetProperty("limit").GetInt64());
        Assert.True(allocated < 48L * 1024 * 1024, $"the request allocated {allocated / (1024 * 1024)} MiB for a {UploadBytes / (1024 * 1024)} MB upload");
        TestContext.Current.TestOutputHelper?.WriteLine($"sent {body.Position / (1024 * 1024)} MiB, allocated {allocated / 1024} KiB while refusing a {UploadBytes / (1024 * 1024)} MB upload");
        Assert.Equal(before, await host.SnapshotAsync(runId));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"api/runs/{runId}", Http.Ct)).StatusCode);
    }

    /// <summary>A PNG signature, then random bytes up to a length, produced as it is read (never held in memory).</summary>
    private sealed class RandomPngStream(long length) : Stream
    {
        private static readonly byte[] Signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
        private readonly Random _random = new(42);
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Interlocked.Read(ref _position); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var count = (int)Math.Min(buffer.Length, length - _position);
            if (count <= 0)
            {
                return 0;
            }

            var span = buffer[..count];
            _random.NextBytes(span);
            for (var i = 0; i < count && _position + i < Signature.Length; i++)
            {
                span[i] = Signature[_position + i];
            }

            Interlocked.Add(ref _position, count);
            return count;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => Task.FromResult(Read(buffer, offset, count));

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

public sealed class SqliteUploadLimitTests() : UploadLimitTests(StoreKind.Sqlite);

public sealed class PostgresUploadLimitTests() : UploadLimitTests(StoreKind.Postgres);
