using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;

namespace Checkpointing.Benchmarks;

/// <summary>
/// P5: a run whose unit phase has 32 units of 200 ms latency each (a model call) at concurrency 8, through
/// <see cref="CheckpointRunner.StartAsync"/> with auto-continue, against the ideal: the same 32 delays run 8 at a time with
/// <see cref="Parallel.ForEachAsync(IEnumerable{int}, ParallelOptions, Func{int, CancellationToken, ValueTask})"/>
/// (4 waves × 200 ms = 800 ms). Target: ≤ 1.1× the ideal.
/// </summary>
[SingleInvocationJob(5)]
public class P5UnitConcurrencyBenchmarks
{
    private static readonly TimeSpan Latency = TimeSpan.FromMilliseconds(200);
    private StoreHandle _handle = null!;
    private string _blobs = "";
    private ServiceProvider _services = null!;
    private CheckpointRunner _runner = null!;

    [Params(StoreKind.InMemory, StoreKind.Sqlite, StoreKind.Postgres)]
    public StoreKind Store { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _handle = StoreHandle.Create(Store);
        _blobs = Env.TempFolder("blobs");
        _services = Fixtures.Services(_handle, b => b.AddPipeline("units", p => p.AddPhase(new SlowUnits())), _blobs);
        _runner = _services.GetRequiredService<CheckpointRunner>();
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _services.DisposeAsync();
        await _handle.DisposeAsync();
        Directory.Delete(_blobs, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public Task Ideal() =>
        Parallel.ForEachAsync(Enumerable.Range(1, 32), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (_, ct) => await Task.Delay(Latency, ct));

    [Benchmark]
    public async Task<RunResult> Runner()
    {
        var result = await _runner.StartAsync(new StartRunRequest("units", "bench", Fixtures.EmptyInput) { AutoContinue = true });
        return result.Status == RunStatus.Completed ? result : throw new InvalidOperationException($"the run ended {result.Status}: {result.Run.Error}");
    }

    private sealed class SlowUnits() : UnitPhase("units", new ArtifactSpec("unit"))
    {
        public override int MaxConcurrency => 8;

        public override Task<int> CountUnitsAsync(PhaseContext context, CancellationToken cancellationToken) => Task.FromResult(32);

        public override async Task<UnitResult> GenerateUnitAsync(UnitContext context, CancellationToken cancellationToken)
        {
            await Task.Delay(Latency, cancellationToken);
            return new UnitResult(Fixtures.SmallJson(context.UnitIndex));
        }
    }
}
