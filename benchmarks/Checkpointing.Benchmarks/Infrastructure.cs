using System.Collections.Concurrent;
using System.Text.Json;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Checkpointing.Postgres;
using Checkpointing.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Checkpointing.Benchmarks;

/// <summary>The metadata stores a scenario runs on.</summary>
public enum StoreKind
{
    InMemory,
    Sqlite,
    Postgres,

    /// <summary>SQLite with <c>SqliteStoreOptions.Synchronous = Normal</c>: durable across process crashes, not power loss.</summary>
    SqliteNormal,
}

/// <summary>Where the services come from: <c>CHECKPOINTING_POSTGRES</c> and <c>CHECKPOINTING_S3_*</c> (benchmarks/run.sh sets them).</summary>
internal static class Env
{
    public static string Postgres => Environment.GetEnvironmentVariable("CHECKPOINTING_POSTGRES") is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException("Set CHECKPOINTING_POSTGRES to a PostgreSQL connection string (benchmarks/run.sh starts a throwaway server).");

    public static string S3Url => Environment.GetEnvironmentVariable("CHECKPOINTING_S3_URL") is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException("Set CHECKPOINTING_S3_URL (benchmarks/run.sh starts the S3 emulator).");

    public static string S3AccessKey => Environment.GetEnvironmentVariable("CHECKPOINTING_S3_ACCESS_KEY") ?? "S3RVER";

    public static string S3SecretKey => Environment.GetEnvironmentVariable("CHECKPOINTING_S3_SECRET_KEY") ?? "S3RVER";

    public static string NewName(string prefix) => prefix + "_" + Guid.NewGuid().ToString("N")[..12];

    public static string TempFolder(string name)
    {
        var path = Path.Combine(Path.GetTempPath(), "checkpointing-bench", NewName(name));
        Directory.CreateDirectory(path);
        return path;
    }
}

/// <summary>
/// One store of a kind, with what is needed to clean it up: a private SQLite file or a private PostgreSQL schema, and a
/// raw connection to the same database for the baselines.
/// </summary>
internal sealed class StoreHandle : IAsyncDisposable
{
    private readonly string? _folder;

    private StoreHandle(StoreKind kind, string? folder, string? schema, NpgsqlDataSource? dataSource)
    {
        Kind = kind;
        _folder = folder;
        Schema = schema;
        DataSource = dataSource;
        SqlitePath = folder is null ? null : Path.Combine(folder, "checkpoints.db");
    }

    public StoreKind Kind { get; }

    public string? SqlitePath { get; }

    public string? Schema { get; }

    public NpgsqlDataSource? DataSource { get; }

    public static StoreHandle Create(StoreKind kind) => kind switch
    {
        StoreKind.InMemory => new StoreHandle(kind, null, null, null),
        StoreKind.Sqlite or StoreKind.SqliteNormal => new StoreHandle(kind, Env.TempFolder("sqlite"), null, null),
        StoreKind.Postgres => new StoreHandle(kind, null, Env.NewName("bench"), NpgsqlDataSource.Create(Env.Postgres)),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Registers the store on the Checkpointing builder (the public builder extensions).</summary>
    public CheckpointingBuilder Use(CheckpointingBuilder builder) => Kind switch
    {
        StoreKind.InMemory => builder.UseInMemoryStore(),
        StoreKind.Sqlite => builder.UseSqlite(SqlitePath!),
        StoreKind.SqliteNormal => builder.UseSqlite(o => { o.DataSource = SqlitePath; o.Synchronous = SqliteSynchronous.Normal; }),
        _ => builder.UsePostgres(DataSource!, o => o.SchemaName = Schema!),
    };

    /// <summary>A store used directly through <see cref="Storage.ICheckpointStore"/>, migrated.</summary>
    public async Task<Storage.ICheckpointStore> CreateStoreAsync()
    {
        switch (Kind)
        {
            case StoreKind.InMemory:
                return new InMemoryCheckpointStore();
            case StoreKind.Sqlite or StoreKind.SqliteNormal:
                var sqlite = new SqliteCheckpointStore(new SqliteStoreOptions
                {
                    DataSource = SqlitePath,
                    Synchronous = Kind == StoreKind.SqliteNormal ? SqliteSynchronous.Normal : SqliteSynchronous.Full,
                });
                await sqlite.MigrateAsync();
                return sqlite;
            default:
                var postgres = new PostgresCheckpointStore(DataSource!, new PostgresStoreOptions { SchemaName = Schema! });
                await postgres.MigrateAsync();
                return postgres;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (DataSource is not null)
        {
            await using (var drop = DataSource.CreateCommand($"DROP SCHEMA IF EXISTS {Schema} CASCADE"))
            {
                await drop.ExecuteNonQueryAsync();
            }

            await DataSource.DisposeAsync();
        }

        if (_folder is not null)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(_folder, recursive: true);
        }
    }
}

internal static class Fixtures
{
    public static readonly JsonElement EmptyInput = JsonSerializer.SerializeToElement(new { });

    public static Run NewRun(string pipeline = "bench")
    {
        var now = DateTimeOffset.UtcNow;
        return new Run
        {
            Id = Guid.NewGuid(),
            Pipeline = pipeline,
            OwnerId = "bench",
            Input = EmptyInput,
            Status = RunStatus.Queued,
            CreatedAt = now,
            UpdatedAt = now,
        };
    }

    /// <summary>A small JSON artifact (about 200 bytes), like a beat of a spec or a unit's metadata.</summary>
    public static ArtifactContent SmallJson(int i) => ArtifactContent.FromJson(JsonSerializer.SerializeToElement(new
    {
        id = $"b{i}",
        duration = 2.5,
        prompt = $"shot {i}: a ceramic desk lamp on an oak desk, cozy evening light",
        shot_type = i % 2 == 0 ? "close_up" : "wide",
    }));

    public static ServiceProvider Services(StoreHandle store, Action<CheckpointingBuilder> configure, string blobFolder)
    {
        var services = new ServiceCollection();
        services.AddCheckpointing(b =>
        {
            configure(b);
            store.Use(b);
            b.UseFileSystemBlobStore(o => o.RootPath = blobFolder);
        });
        return services.BuildServiceProvider();
    }
}

/// <summary>A value a benchmark measured besides time (e.g. bytes stored), shown as a column of the summary.</summary>
internal sealed class MetricColumn(string name, string legend) : IColumn
{
    private static readonly ConcurrentDictionary<string, string> Values = new();

    public static void Report(string column, string benchmark, string value)
    {
        Values[column + "|" + benchmark] = value;
        Console.WriteLine($"// metric {column} {benchmark}: {value}");
    }

    public string Id => "metric-" + name;
    public string ColumnName => name;
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => false;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => legend;
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) =>
        Values.TryGetValue(name + "|" + benchmarkCase.Descriptor.WorkloadMethod.Name, out var value) ? value : "-";
}

/// <summary>
/// The jobs: short ones, in process (so the suite takes minutes, and metrics reach the summary). A class picks one with
/// <see cref="ShortJobAttribute"/> or <see cref="SingleInvocationJobAttribute"/>; a <c>--job</c> on the command line (e.g.
/// <c>--job dry</c>) replaces them all.
/// </summary>
internal static class Jobs
{
    public static bool GivenOnCommandLine { get; set; }

    public static Job Short => Job.Default
        .WithToolchain(InProcessEmitToolchain.Instance)
        .WithLaunchCount(1)
        .WithWarmupCount(2)
        .WithIterationCount(6)
        .WithIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(100))
        .WithEvaluateOverhead(false);

    public static IConfig Config(string[] args)
    {
        GivenOnCommandLine = args.Contains("--job");
        return DefaultConfig.Instance
            .AddDiagnoser(BenchmarkDotNet.Diagnosers.MemoryDiagnoser.Default)
            .AddColumn(new MetricColumn("Stored/unique", "P6: bytes the blob store holds divided by the unique bytes written"))
            .WithOptions(ConfigOptions.DisableLogFile)
            .WithSummaryStyle(SummaryStyle.Default.WithRatioStyle(RatioStyle.Trend));
    }
}

/// <summary>Runs the class with <see cref="Jobs.Short"/> (unless a job is given on the command line).</summary>
[AttributeUsage(AttributeTargets.Class)]
internal sealed class ShortJobAttribute : Attribute, IConfigSource
{
    public IConfig Config => Jobs.GivenOnCommandLine ? ManualConfig.CreateEmpty() : ManualConfig.CreateEmpty().AddJob(Jobs.Short.WithId("Short"));
}

/// <summary>One long operation per iteration (seconds, or state prepared per iteration in an [IterationSetup]).</summary>
[AttributeUsage(AttributeTargets.Class)]
internal sealed class SingleInvocationJobAttribute(int iterations) : Attribute, IConfigSource
{
    public IConfig Config => Jobs.GivenOnCommandLine
        ? ManualConfig.CreateEmpty()
        : ManualConfig.CreateEmpty().AddJob(Jobs.Short.WithInvocationCount(1).WithUnrollFactor(1).WithWarmupCount(1).WithIterationCount(iterations).WithId("Single"));
}
