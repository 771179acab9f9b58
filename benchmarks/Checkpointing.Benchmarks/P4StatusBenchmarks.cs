using BenchmarkDotNet.Attributes;
using Checkpointing.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Checkpointing.Benchmarks;

/// <summary>
/// P4: the status of a run (<see cref="CheckpointQueries.GetStatusAsync"/>: run, current checkpoint, tree, active branches)
/// and its tree (<see cref="CheckpointQueries.GetTreeAsync"/>) with N checkpoints on one long branch, against the raw
/// minimum: one round trip that reads the run and its checkpoints from tables of the same shape, then the tree and the
/// leaves built in one pass (a list scan and a dictionary in memory). Target: ≤ 1.5× raw, &lt; 50 ms on PostgreSQL at 10,000.
/// </summary>
[ShortJob]
public class P4StatusBenchmarks
{
    private StoreHandle _handle = null!;
    private string _blobs = "";
    private ServiceProvider _services = null!;
    private CheckpointQueries _queries = null!;
    private Guid _runId;
    private SqliteConnection? _sqlite;
    private readonly List<RawCheckpoint> _memory = [];

    [Params(StoreKind.InMemory, StoreKind.Sqlite, StoreKind.Postgres)]
    public StoreKind Store { get; set; }

    [Params(10, 1000, 10000)]
    public int Checkpoints { get; set; }

    /// <summary>Seeded runs, shared by the three methods of a parameter set (seeding 10,000 checkpoints takes a while).</summary>
    private static readonly Dictionary<(StoreKind, int), P4StatusBenchmarks> Seeded = [];

    [GlobalSetup]
    public async Task Setup()
    {
        if (Seeded.TryGetValue((Store, Checkpoints), out var seeded))
        {
            (_handle, _blobs, _services, _queries, _runId, _sqlite) = (seeded._handle, seeded._blobs, seeded._services, seeded._queries, seeded._runId, seeded._sqlite);
            _memory.AddRange(seeded._memory);
            return;
        }

        Seeded[(Store, Checkpoints)] = this;
        _handle = StoreHandle.Create(Store);
        _blobs = Env.TempFolder("blobs");
        _services = Fixtures.Services(_handle, b => b.AddPipeline("bench", p => p.AddPhase(new OnePhase("a")).AddPhase(new OnePhase("b"))), _blobs);
        _queries = _services.GetRequiredService<CheckpointQueries>();
        var store = _services.GetRequiredService<ICheckpointStore>();

        var run = Fixtures.NewRun();
        _runId = run.Id;
        await store.CreateRunAsync(run);
        Guid? parent = null;
        var rows = new List<RawCheckpoint>(Checkpoints);
        for (var i = 0; i < Checkpoints; i++)
        {
            var checkpoint = await store.CommitCheckpointAsync(new NewCheckpoint
            {
                Id = Guid.NewGuid(),
                RunId = run.Id,
                Branch = BranchNames.Main,
                Phase = 1,
                ParentId = parent,
                Artifacts = [],
                CreatedAt = DateTimeOffset.UtcNow,
            });
            parent = checkpoint.Id;
            rows.Add(new RawCheckpoint(checkpoint.Id, run.Id, checkpoint.Branch, checkpoint.Phase, checkpoint.Version, checkpoint.ParentId, "Pending", checkpoint.CreatedAt));
        }

        switch (Store)
        {
            case StoreKind.InMemory:
                _memory.AddRange(rows);
                _memory.AddRange(Enumerable.Range(0, 1000).Select(_ => rows[0] with { Id = Guid.NewGuid(), RunId = Guid.NewGuid() })); // another run's
                break;
            case StoreKind.Sqlite:
                _sqlite = new SqliteConnection($"Data Source={_handle.SqlitePath}");
                await _sqlite.OpenAsync();
                await P1CommitBenchmarks.Exec(_sqlite, P1CommitBenchmarks.RawTables("TEXT", "TEXT", "TEXT") + "CREATE TABLE raw_runs (id TEXT PRIMARY KEY, status TEXT NOT NULL, cost TEXT NOT NULL);");
                await using (var transaction = (SqliteTransaction)await _sqlite.BeginTransactionAsync())
                {
                    await using var insert = _sqlite.CreateCommand();
                    insert.Transaction = transaction;
                    insert.CommandText = "INSERT INTO raw_checkpoints (id, run_id, branch, phase, version, parent_id, status, created_at, cost, consumed) VALUES ($id, $run, $branch, 1, $version, $parent, 'Pending', $at, '0', '[]')";
                    var id = insert.Parameters.Add("$id", SqliteType.Text);
                    insert.Parameters.AddWithValue("$run", run.Id.ToString());
                    insert.Parameters.AddWithValue("$branch", BranchNames.Main);
                    var version = insert.Parameters.Add("$version", SqliteType.Integer);
                    var parentId = insert.Parameters.Add("$parent", SqliteType.Text);
                    var at = insert.Parameters.Add("$at", SqliteType.Text);
                    foreach (var row in rows)
                    {
                        id.Value = row.Id.ToString();
                        version.Value = row.Version;
                        parentId.Value = row.ParentId?.ToString() ?? (object)DBNull.Value;
                        at.Value = row.CreatedAt.ToString("O");
                        await insert.ExecuteNonQueryAsync();
                    }

                    await using var runRow = _sqlite.CreateCommand();
                    runRow.Transaction = transaction;
                    runRow.CommandText = $"INSERT INTO raw_runs VALUES ('{run.Id}', 'Paused', '0')";
                    await runRow.ExecuteNonQueryAsync();
                    await transaction.CommitAsync();
                }

                break;
            default:
                var schema = _handle.Schema;
                await using (var create = _handle.DataSource!.CreateCommand($"SET search_path TO {schema}; " + P1CommitBenchmarks.RawTables("uuid", "jsonb", "timestamptz") + "CREATE TABLE raw_runs (id uuid PRIMARY KEY, status text NOT NULL, cost numeric NOT NULL);"))
                {
                    await create.ExecuteNonQueryAsync();
                }

                await using (var connection = await _handle.DataSource.OpenConnectionAsync())
                {
                    await using (var importer = await connection.BeginBinaryImportAsync($"COPY {schema}.raw_checkpoints (id, run_id, branch, phase, version, parent_id, status, created_at, cost, consumed) FROM STDIN (FORMAT BINARY)"))
                    {
                        foreach (var row in rows)
                        {
                            await importer.StartRowAsync();
                            await importer.WriteAsync(row.Id);
                            await importer.WriteAsync(row.RunId);
                            await importer.WriteAsync(row.Branch);
                            await importer.WriteAsync(row.Phase);
                            await importer.WriteAsync(row.Version);
                            if (row.ParentId is { } p)
                            {
                                await importer.WriteAsync(p);
                            }
                            else
                            {
                                await importer.WriteNullAsync();
                            }

                            await importer.WriteAsync(row.Status);
                            await importer.WriteAsync(row.CreatedAt, NpgsqlTypes.NpgsqlDbType.TimestampTz);
                            await importer.WriteAsync(0m);
                            await importer.WriteAsync("[]", NpgsqlTypes.NpgsqlDbType.Jsonb);
                        }

                        await importer.CompleteAsync();
                    }

                    await using var runRow = new NpgsqlCommand($"INSERT INTO {schema}.raw_runs VALUES ('{run.Id}', 'Paused', 0); ANALYZE {schema}.raw_checkpoints;", connection);
                    await runRow.ExecuteNonQueryAsync();
                }

                break;
        }
    }

    // No cleanup: the seeded runs stay for the other methods of the same parameters; run.sh deletes the temporary folder
    // and stops the throwaway servers.

    [Benchmark(Baseline = true)]
    public async Task<int> RawStatus()
    {
        var rows = new List<RawCheckpoint>(Checkpoints);
        switch (Store)
        {
            case StoreKind.InMemory:
                foreach (var row in _memory)
                {
                    if (row.RunId == _runId)
                    {
                        rows.Add(row);
                    }
                }

                break;
            case StoreKind.Sqlite:
                await using (var command = _sqlite!.CreateCommand())
                {
                    command.CommandText = "SELECT status, cost FROM raw_runs WHERE id = $run; SELECT id, branch, phase, version, parent_id, status, created_at FROM raw_checkpoints WHERE run_id = $run ORDER BY branch, version";
                    command.Parameters.AddWithValue("$run", _runId.ToString());
                    await using var reader = await command.ExecuteReaderAsync();
                    await reader.ReadAsync();
                    await reader.NextResultAsync();
                    while (await reader.ReadAsync())
                    {
                        rows.Add(new RawCheckpoint(Guid.Parse(reader.GetString(0)), _runId, reader.GetString(1), reader.GetInt32(2), reader.GetInt32(3),
                            reader.IsDBNull(4) ? null : Guid.Parse(reader.GetString(4)), reader.GetString(5), DateTimeOffset.Parse(reader.GetString(6), System.Globalization.CultureInfo.InvariantCulture)));
                    }
                }

                break;
            default:
                await using (var batch = _handle.DataSource!.CreateBatch())
                {
                    var schema = _handle.Schema;
                    batch.BatchCommands.Add(new NpgsqlBatchCommand($"SELECT status, cost FROM {schema}.raw_runs WHERE id = $1") { Parameters = { new() { Value = _runId } } });
                    batch.BatchCommands.Add(new NpgsqlBatchCommand($"SELECT id, branch, phase, version, parent_id, status, created_at FROM {schema}.raw_checkpoints WHERE run_id = $1 ORDER BY branch, version") { Parameters = { new() { Value = _runId } } });
                    await using var reader = await batch.ExecuteReaderAsync();
                    await reader.ReadAsync();
                    await reader.NextResultAsync();
                    while (await reader.ReadAsync())
                    {
                        rows.Add(new RawCheckpoint(reader.GetGuid(0), _runId, reader.GetString(1), reader.GetInt32(2), reader.GetInt32(3),
                            reader.IsDBNull(4) ? null : reader.GetGuid(4), reader.GetString(5), reader.GetFieldValue<DateTimeOffset>(6)));
                    }
                }

                break;
        }

        // The tree (children by parent) and each branch's leaf, in one pass.
        var children = new Dictionary<Guid, List<RawCheckpoint>>();
        var leaves = new Dictionary<string, RawCheckpoint>();
        var hasChild = new HashSet<Guid>();
        foreach (var row in rows)
        {
            if (row.ParentId is { } p)
            {
                hasChild.Add(p);
                if (!children.TryGetValue(p, out var list))
                {
                    children[p] = list = [];
                }

                list.Add(row);
            }
        }

        foreach (var row in rows)
        {
            if (!hasChild.Contains(row.Id))
            {
                leaves[row.Branch] = row;
            }
        }

        return children.Count + leaves.Count;
    }

    [Benchmark]
    public Task<RunSnapshot> Status() => _queries.GetStatusAsync(_runId);

    [Benchmark]
    public Task<IReadOnlyList<CheckpointNode>> Tree() => _queries.GetTreeAsync(_runId);

    private sealed record RawCheckpoint(Guid Id, Guid RunId, string Branch, int Phase, int Version, Guid? ParentId, string Status, DateTimeOffset CreatedAt);

    private sealed class OnePhase(string name) : Phase(name)
    {
        public override IReadOnlyList<ArtifactSpec> Artifacts => [new ArtifactSpec(Name)];

        public override Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken) =>
            Task.FromResult(new PhaseResult([new PhaseArtifact(Name, "x", Fixtures.SmallJson(0))]));
    }
}
