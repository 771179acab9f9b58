using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;

namespace Checkpointing.Benchmarks;

/// <summary>
/// P2: forking, that is continuing an edited checkpoint (<see cref="CheckpointRunner.ContinueAsync"/>), of a checkpoint
/// with N artifacts, against the same fork of a checkpoint with one artifact (the baseline) on the same store. Each
/// iteration first edits one artifact (a JSON merge patch), so every continue forks a new branch and runs the next
/// phase, which writes one small artifact and reads none of its inputs. Target: ≤ 1.5× at 1,000 artifacts, and no bytes
/// copied.
/// </summary>
[SingleInvocationJob(30)]
public class P2ForkBenchmarks
{
    private StoreHandle _handle = null!;
    private string _blobs = "";
    private ServiceProvider _services = null!;
    private CheckpointRunner _runner = null!;
    private CheckpointEditor _editor = null!;
    private Guid _one;
    private Guid _many;
    private int _edit;

    // SQLite with Synchronous = Normal: a fork is some ten write transactions, the same number for 1 and for N
    // artifacts, and on FULL their fsyncs (a few ms each on a shared virtual disk, and as variable) drown what differs.
    [Params(StoreKind.InMemory, StoreKind.SqliteNormal, StoreKind.Postgres)]
    public StoreKind Store { get; set; }

    [Params(16, 100, 1000)]
    public int Artifacts { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        _handle = StoreHandle.Create(Store);
        _blobs = Env.TempFolder("blobs");
        _services = Fixtures.Services(_handle, b => b.AddPipeline("fork", p => p.AddPhase(new WidePhase()).AddPhase(new NextPhase()).AddPhase(new NextPhase("last"))), _blobs);
        _runner = _services.GetRequiredService<CheckpointRunner>();
        _editor = _services.GetRequiredService<CheckpointEditor>();
        _one = (await _runner.StartAsync(new StartRunRequest("fork", "bench", JsonSerializer.SerializeToElement(new { artifacts = 1 })))).Checkpoint!.Id;
        _many = (await _runner.StartAsync(new StartRunRequest("fork", "bench", JsonSerializer.SerializeToElement(new { artifacts = Artifacts })))).Checkpoint!.Id;
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _services.DisposeAsync();
        await _handle.DisposeAsync();
        Directory.Delete(_blobs, recursive: true);
    }

    [IterationSetup(Target = nameof(ForkOfOneArtifact))]
    public void EditOne() => Edit(_one);

    [IterationSetup(Target = nameof(ForkOfNArtifacts))]
    public void EditMany() => Edit(_many);

    private void Edit(Guid checkpoint) =>
        _editor.PatchJsonAsync(checkpoint, "beat", "beat_1", $$"""{"edit":{{++_edit}}}""").GetAwaiter().GetResult();

    [Benchmark(Baseline = true)]
    public async Task<ContinueResult> ForkOfOneArtifact() => Check(await _runner.ContinueAsync(_one));

    [Benchmark]
    public async Task<ContinueResult> ForkOfNArtifacts() => Check(await _runner.ContinueAsync(_many));

    private static ContinueResult Check(ContinueResult result) =>
        result.BranchCreated ? result : throw new InvalidOperationException($"the continue did not fork: {result.Run.Error}");

    /// <summary>Phase 1: N small JSON artifacts (the input says how many), each editable.</summary>
    private sealed class WidePhase() : Phase("wide")
    {
        public override IReadOnlyList<ArtifactSpec> Artifacts { get; } = [new ArtifactSpec("beat") { AllowedEdits = EditKinds.PatchJson }];

        public override Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken)
        {
            var n = context.Run.Input.GetProperty("artifacts").GetInt32();
            return Task.FromResult(new PhaseResult(Enumerable.Range(1, n).Select(i => new PhaseArtifact("beat", $"beat_{i}", Fixtures.SmallJson(i))).ToList()));
        }
    }

    /// <summary>The next phase: one small artifact, reading nothing.</summary>
    private sealed class NextPhase(string name = "next") : Phase(name)
    {
        public override IReadOnlyList<ArtifactSpec> Artifacts => [new ArtifactSpec(Name)];

        public override Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken) =>
            Task.FromResult(new PhaseResult([new PhaseArtifact(Name, "summary", Fixtures.SmallJson(0))]));
    }
}
