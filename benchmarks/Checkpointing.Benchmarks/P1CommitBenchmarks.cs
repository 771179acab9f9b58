using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Checkpointing.Storage;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;

namespace Checkpointing.Benchmarks;

/// <summary>
/// P1: committing a checkpoint of N artifacts through the store (<see cref="ICheckpointStore.CommitCheckpointAsync"/>)
/// against the raw minimum that writes the same rows (one checkpoint row, N artifact rows, N history rows) in a single
/// transaction: a Npgsql batch (one round trip) on PostgreSQL, one SQLite transaction with prepared commands, and
/// dictionary inserts in memory. The raw rows go to tables of the same shape that only the baseline uses. Target: ≤ 1.25×.
/// </summary>
[ShortJob]
public class P1CommitBenchmarks
{
    private StoreHandle _handle = null!;
    private ICheckpointStore _store = null!;
    private Run _run = null!;
    private NewArtifact[] _artifacts = [];
    private string[] _contents = [];
    private SqliteConnection? _sqlite;
    private int _version;
    private readonly Dictionary<Guid, object> _rawCheckpoints = [];
    private readonly Dictionary<Guid, object> _rawArtifacts = [];
    private readonly Dictionary<(Guid, int), object> _rawVersions = [];

    [Params(StoreKind.InMemory, StoreKind.Sqlite, StoreKind.Postgres)]
    public StoreKind Store { get; set; }

    [Params(1, 16, 100, 1000)]
    public int Artifacts { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        _handle = StoreHandle.Create(Store);
        _store = await _handle.CreateStoreAsync();
        _run = Fixtures.NewRun();
        await _store.CreateRunAsync(_run);
        _artifacts = Enumerable.Range(1, Artifacts)
            .Select(i => new NewArtifact(Guid.Empty, "beat", $"beat_{i}", Fixtures.SmallJson(i), ArtifactMetadata.Empty, i))
            .ToArray();
        _contents = _artifacts.Select(a => JsonSerializer.Serialize(a.Content.Json)).ToArray();
        switch (Store)
        {
            case StoreKind.Sqlite:
                _sqlite = new SqliteConnection($"Data Source={_handle.SqlitePath}");
                await _sqlite.OpenAsync();
                await Exec(_sqlite, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;" + RawTables("TEXT", "TEXT", "TEXT"));
                break;
            case StoreKind.Postgres:
                await using (var command = _handle.DataSource!.CreateCommand($"SET search_path TO {_handle.Schema}; " + RawTables("uuid", "jsonb", "timestamptz")))
                {
                    await command.ExecuteNonQueryAsync();
                }

                break;
        }
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        if (_sqlite is not null)
        {
            await _sqlite.DisposeAsync();
        }

        (_store as IDisposable)?.Dispose();
        await _handle.DisposeAsync();
    }

    [Benchmark(Baseline = true)]
    public async Task Raw()
    {
        var id = Guid.NewGuid();
        var version = ++_version;
        var now = DateTimeOffset.UtcNow;
        switch (Store)
        {
            case StoreKind.InMemory:
                _rawCheckpoints[id] = (id, _run.Id, "raw", 1, version, now);
                foreach (var a in _artifacts)
                {
                    var artifactId = Guid.NewGuid();
                    _rawArtifacts[artifactId] = (artifactId, id, a.Type, a.Key, 1, a.Content, a.Metadata, now);
                    _rawVersions[(artifactId, 1)] = (artifactId, 1, a.Content, a.Metadata, now);
                }

                break;
            case StoreKind.Sqlite:
                await using (var transaction = (SqliteTransaction)await _sqlite!.BeginTransactionAsync())
                {
                    await using var checkpoint = _sqlite.CreateCommand();
                    checkpoint.Transaction = transaction;
                    checkpoint.CommandText = "INSERT INTO raw_checkpoints (id, run_id, branch, phase, version, status, created_at, cost, consumed) VALUES ($id, $run, 'raw', 1, $version, 'Pending', $now, '0', '[]')";
                    checkpoint.Parameters.AddWithValue("$id", id.ToString());
                    checkpoint.Parameters.AddWithValue("$run", _run.Id.ToString());
                    checkpoint.Parameters.AddWithValue("$version", version);
                    checkpoint.Parameters.AddWithValue("$now", now.ToString("O"));
                    await checkpoint.ExecuteNonQueryAsync();
                    await using var artifact = _sqlite.CreateCommand();
                    artifact.Transaction = transaction;
                    artifact.CommandText = "INSERT INTO raw_artifacts (id, checkpoint_id, type, key, version, content, metadata, updated_at) VALUES ($id, $cp, $type, $key, 1, $content, '{}', $now); " +
                        "INSERT INTO raw_artifact_versions (artifact_id, version, content, metadata, created_at) VALUES ($id, 1, $content, '{}', $now)";
                    var pId = artifact.Parameters.Add("$id", SqliteType.Text);
                    artifact.Parameters.AddWithValue("$cp", id.ToString());
                    var pType = artifact.Parameters.Add("$type", SqliteType.Text);
                    var pKey = artifact.Parameters.Add("$key", SqliteType.Text);
                    var pContent = artifact.Parameters.Add("$content", SqliteType.Text);
                    artifact.Parameters.AddWithValue("$now", now.ToString("O"));
                    for (var i = 0; i < _artifacts.Length; i++)
                    {
                        pId.Value = Guid.NewGuid().ToString();
                        pType.Value = _artifacts[i].Type;
                        pKey.Value = _artifacts[i].Key;
                        pContent.Value = _contents[i];
                        await artifact.ExecuteNonQueryAsync();
                    }

                    await transaction.CommitAsync();
                }

                break;
            default:
                await using (var connection = await _handle.DataSource!.OpenConnectionAsync())
                await using (var batch = new NpgsqlBatch(connection))
                {
                    var schema = _handle.Schema;
                    batch.BatchCommands.Add(new NpgsqlBatchCommand($"INSERT INTO {schema}.raw_checkpoints (id, run_id, branch, phase, version, status, created_at, cost, consumed) VALUES ($1, $2, 'raw', 1, $3, 'Pending', $4, 0, '[]')")
                    {
                        Parameters = { new() { Value = id }, new() { Value = _run.Id }, new() { Value = version }, new() { Value = now } },
                    });
                    for (var i = 0; i < _artifacts.Length; i++)
                    {
                        var artifactId = Guid.NewGuid();
                        batch.BatchCommands.Add(new NpgsqlBatchCommand($"INSERT INTO {schema}.raw_artifacts (id, checkpoint_id, type, key, version, content, metadata, updated_at) VALUES ($1, $2, $3, $4, 1, $5, '{{}}', $6)")
                        {
                            Parameters = { new() { Value = artifactId }, new() { Value = id }, new() { Value = _artifacts[i].Type }, new() { Value = _artifacts[i].Key }, new() { Value = _contents[i], NpgsqlDbType = NpgsqlDbType.Jsonb }, new() { Value = now } },
                        });
                        batch.BatchCommands.Add(new NpgsqlBatchCommand($"INSERT INTO {schema}.raw_artifact_versions (artifact_id, version, content, metadata, created_at) VALUES ($1, 1, $2, '{{}}', $3)")
                        {
                            Parameters = { new() { Value = artifactId }, new() { Value = _contents[i], NpgsqlDbType = NpgsqlDbType.Jsonb }, new() { Value = now } },
                        });
                    }

                    // A batch without an explicit transaction runs as one implicit transaction, in one round trip.
                    await batch.ExecuteNonQueryAsync();
                }

                break;
        }
    }

    [Benchmark]
    public Task<Checkpoint> Commit() =>
        _store.CommitCheckpointAsync(new NewCheckpoint
        {
            Id = Guid.NewGuid(),
            RunId = _run.Id,
            Branch = BranchNames.Main,
            Phase = 1,
            Artifacts = _artifacts.Select(a => a with { Id = Guid.NewGuid() }).ToList(),
            CreatedAt = DateTimeOffset.UtcNow,
        });

    /// <summary>Tables of the shape of the stores' own, for the raw baseline only (so it never touches the stores' schema).</summary>
    internal static string RawTables(string id, string json, string time) => $"""
        CREATE TABLE raw_checkpoints (id {id} PRIMARY KEY, run_id {id} NOT NULL, branch TEXT NOT NULL, phase INTEGER NOT NULL, version INTEGER NOT NULL,
            parent_id {id} NULL, status TEXT NOT NULL, approved_at {time} NULL, created_at {time} NOT NULL, output {json} NULL, cost {(json == "jsonb" ? "numeric" : "TEXT")} NOT NULL,
            created_by TEXT NULL, edit_description TEXT NULL, consumed {json} NOT NULL, UNIQUE (run_id, branch, phase, version));
        CREATE TABLE raw_artifacts (id {id} PRIMARY KEY, checkpoint_id {id} NOT NULL REFERENCES raw_checkpoints (id), type TEXT NOT NULL, key TEXT NOT NULL,
            version INTEGER NOT NULL, content {json} NOT NULL, metadata {json} NOT NULL, unit_index INTEGER NULL, updated_at {time} NOT NULL,
            updated_by TEXT NULL, reason TEXT NULL, UNIQUE (checkpoint_id, type, key));
        CREATE TABLE raw_artifact_versions (artifact_id {id} NOT NULL REFERENCES raw_artifacts (id), version INTEGER NOT NULL, parent_version INTEGER NULL,
            content {json} NOT NULL, blob_hash TEXT NULL, metadata {json} NOT NULL, created_at {time} NOT NULL, created_by TEXT NULL, reason TEXT NULL,
            PRIMARY KEY (artifact_id, version));
        CREATE INDEX ix_raw_checkpoints_run_branch ON raw_checkpoints (run_id, branch, version);
        """;

    internal static async Task Exec(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }
}
