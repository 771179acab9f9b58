using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Checkpointing.Postgres;
using Npgsql;

namespace Checkpointing.Benchmarks;

/// <summary>
/// An artifact edit through the PostgreSQL store (one transaction: lock, version check, update, history row, checkpoint
/// and run cost) against the bare minimum in raw Npgsql (one transaction: update + history row). Needs a server:
/// <c>CHECKPOINTING_POSTGRES</c> (e.g. from <c>tests/infra/postgres.sh</c>).
/// </summary>
[ShortJob]
public class PostgresStoreBenchmarks
{
    private NpgsqlDataSource _dataSource = null!;
    private PostgresCheckpointStore _store = null!;
    private string _schema = "";
    private Guid _checkpointId;
    private Guid _rawArtifactId;
    private int _storeVersion = 1;
    private int _rawVersion = 1;

    [GlobalSetup]
    public async Task Setup()
    {
        var connectionString = Environment.GetEnvironmentVariable("CHECKPOINTING_POSTGRES")
            ?? throw new InvalidOperationException("Set CHECKPOINTING_POSTGRES to a PostgreSQL connection string (tests/infra/postgres.sh starts a throwaway server).");
        _dataSource = NpgsqlDataSource.Create(connectionString);
        _schema = "bench_" + Guid.NewGuid().ToString("N")[..12];
        _store = new PostgresCheckpointStore(_dataSource, new PostgresStoreOptions { SchemaName = _schema });
        await _store.MigrateAsync();
        var now = DateTimeOffset.UtcNow;
        var run = new Run
        {
            Id = Guid.NewGuid(),
            Pipeline = "video",
            OwnerId = "bench",
            Input = JsonSerializer.SerializeToElement(new { }),
            Status = RunStatus.Queued,
            CreatedAt = now,
            UpdatedAt = now,
        };
        await _store.CreateRunAsync(run);
        var spec = ArtifactContent.FromJson(JsonSerializer.SerializeToElement(new { beats = 4 }));
        _rawArtifactId = Guid.NewGuid();
        var checkpoint = await _store.CommitCheckpointAsync(new NewCheckpoint
        {
            Id = Guid.NewGuid(),
            RunId = run.Id,
            Branch = BranchNames.Main,
            Phase = 1,
            Artifacts = [new NewArtifact(Guid.NewGuid(), "spec", "spec", spec, ArtifactMetadata.Empty), new NewArtifact(_rawArtifactId, "spec", "raw", spec, ArtifactMetadata.Empty)],
            CreatedAt = now,
        });
        _checkpointId = checkpoint.Id;
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await using (var drop = _dataSource.CreateCommand($"DROP SCHEMA {_schema} CASCADE"))
        {
            await drop.ExecuteNonQueryAsync();
        }

        _store.Dispose();
        await _dataSource.DisposeAsync();
    }

    [Benchmark(Baseline = true)]
    public async Task RawNpgsqlEdit()
    {
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var version = ++_rawVersion;
        await using var batch = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand($"UPDATE {_schema}.artifacts SET version = $1, content = $2::jsonb, updated_at = now() WHERE id = $3 AND version = $4")
                {
                    Parameters = { new() { Value = version }, new() { Value = "{\"json\":{\"beats\":5}}" }, new() { Value = _rawArtifactId }, new() { Value = version - 1 } },
                },
                new NpgsqlBatchCommand($"INSERT INTO {_schema}.artifact_versions (artifact_id, version, parent_version, content, metadata, created_at) VALUES ($1, $2, $3, $4::jsonb, '{{}}'::jsonb, now())")
                {
                    Parameters = { new() { Value = _rawArtifactId }, new() { Value = version }, new() { Value = version - 1 }, new() { Value = "{\"json\":{\"beats\":5}}" } },
                },
            },
        };
        await batch.ExecuteNonQueryAsync();
        await transaction.CommitAsync();
    }

    [Benchmark]
    public Task<Artifact> StoreEdit() =>
        _store.UpdateArtifactAsync(new ArtifactUpdate
        {
            CheckpointId = _checkpointId,
            Type = "spec",
            Key = "spec",
            ExpectedVersion = _storeVersion++,
            Content = ArtifactContent.FromJson(JsonSerializer.SerializeToElement(new { beats = 5 })),
            Metadata = ArtifactMetadata.Empty,
            UpdatedBy = "bench",
            At = DateTimeOffset.UtcNow,
        });
}
