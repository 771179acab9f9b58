using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace Checkpointing.Conformance;

/// <summary>
/// Core's runner and editor on a store, through DI as a host builds it: start, edit, continue on a fork, continue
/// again (idempotent), complete, then read everything back through a new service provider (a restarted process).
/// A provider's test project derives from this class and says how to add its store to the builder.
/// </summary>
public abstract class RunnerOnStoreConformanceTests : IAsyncLifetime
{
    private readonly string _blobs = Path.Combine(Path.GetTempPath(), "checkpointing-e2e-blobs-" + Guid.NewGuid().ToString("N"));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Adds the store under test to the builder; called once per service provider (per "process").</summary>
    /// <param name="builder">The Checkpointing builder.</param>
    protected abstract void UseStore(CheckpointingBuilder builder);

    /// <summary>Prepares the store (e.g. checks that its server answers).</summary>
    public virtual ValueTask InitializeAsync() => ValueTask.CompletedTask;

    /// <summary>Removes what the test stored.</summary>
    public virtual ValueTask DisposeAsync()
    {
        if (Directory.Exists(_blobs))
        {
            Directory.Delete(_blobs, recursive: true);
        }

        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    private ServiceProvider BuildProvider()
    {
        var services = new ServiceCollection();
        services.AddCheckpointing(b =>
        {
            b.AddPipeline("demo", p => p
                    .AddPhase(new PlanPhase())
                    .AddPhase(new ImagesPhase())
                    .AddPhase(new FinalPhase()))
                .UseFileSystemBlobStore(o => o.RootPath = _blobs);
            UseStore(b);
        });
        return services.BuildServiceProvider(validateScopes: true);
    }

    /// <summary>A run is edited forked completed and read back after a restart.</summary>
    [Fact]
    public async Task A_run_is_edited_forked_completed_and_read_back_after_a_restart()
    {
        Guid runId;
        await using (var provider = BuildProvider())
        {
            var runner = provider.GetRequiredService<CheckpointRunner>();
            var editor = provider.GetRequiredService<CheckpointEditor>();
            using var input = JsonDocument.Parse("""{"topic":"lighthouse"}""");

            var started = await runner.StartAsync(new StartRunRequest("demo", "user-1", input.RootElement), Ct);
            runId = started.Run.Id;
            Assert.Equal(RunStatus.Paused, started.Status);
            Assert.Equal(1, started.Checkpoint!.Phase);

            var edit = await editor.PatchJsonAsync(started.Checkpoint.Id, "spec", "spec", """{"beats":2}""", cancellationToken: Ct);
            Assert.Equal(2, edit.Artifact.Version);

            var images = await runner.ContinueAsync(started.Checkpoint.Id, cancellationToken: Ct);
            Assert.Equal("main-1", images.Branch);
            Assert.True(images.BranchCreated);
            Assert.Equal(2, images.Checkpoint!.Phase);
            Assert.Equal(["beat_image_1", "beat_image_2"], (await provider.GetRequiredService<ICheckpointStore>().GetArtifactsAsync(images.Checkpoint.Id, Ct)).Select(a => a.Key));

            var again = await runner.ContinueAsync(started.Checkpoint.Id, cancellationToken: Ct);
            Assert.True(again.AlreadyContinued);
            Assert.Equal("main-1", again.Branch);

            var final = await runner.ContinueAsync(images.Checkpoint.Id, cancellationToken: Ct);
            Assert.Equal("main-1", final.Branch);
            Assert.False(final.BranchCreated);
            Assert.Equal(RunStatus.Completed, final.Run.Status);
        }

        // A new process: everything is read back from the store.
        await using (var provider = BuildProvider())
        {
            var store = provider.GetRequiredService<ICheckpointStore>();
            var run = (await store.GetRunAsync(runId, Ct))!;
            var checkpoints = await store.ListCheckpointsAsync(runId, null, Ct);

            Assert.Equal(RunStatus.Completed, run.Status);
            Assert.Equal(0.2m, run.Cost);
            Assert.Equal([("main", 1), ("main-1", 2), ("main-1", 3)], checkpoints.Select(c => (c.Branch, c.Phase)));
            Assert.All(checkpoints, c => Assert.Equal(CheckpointStatus.Approved, c.Status));
            Assert.Equal(["main", "main-1"], (await store.ListBranchesAsync(runId, Ct)).Select(b => b.Name));
            var spec = (await store.GetArtifactAsync(checkpoints[0].Id, "spec", "spec", Ct))!;
            Assert.Equal(2, spec.Content.Json!.Value.GetProperty("beats").GetInt32());
            Assert.Equal(1, (await store.GetArtifactVersionAsync(spec.Id, 1, Ct))!.Content.Json!.Value.GetProperty("beats").GetInt32());
            Assert.Contains(checkpoints[1].Consumed, p => p.Type == "spec" && p.Version == 2);
            var finalOutput = (await store.GetArtifactAsync(checkpoints[2].Id, "final", "final", Ct))!.Content.Json!.Value;
            Assert.Equal(2, finalOutput.GetProperty("images").GetInt32());
            var referenced = new List<string>();
            await foreach (var hash in store.ListReferencedBlobsAsync(Ct))
            {
                referenced.Add(hash);
            }

            Assert.Equal(2, referenced.Count);
            Assert.All(referenced, h => Assert.True(provider.GetRequiredService<IBlobStore>().ExistsAsync(h, Ct).GetAwaiter().GetResult()));
        }
    }

    private sealed class PlanPhase() : Phase("plan")
    {
        public override IReadOnlyList<ArtifactSpec> Artifacts { get; } =
            [new ArtifactSpec("spec") { AllowedEdits = EditKinds.PatchJson, IsPhaseOutput = true }];

        public override Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken)
        {
            var spec = JsonSerializer.SerializeToElement(new { beats = 1, topic = context.Run.Input.GetProperty("topic").GetString() });
            return Task.FromResult(new PhaseResult([new PhaseArtifact("spec", "spec", ArtifactContent.FromJson(spec))], spec));
        }
    }

    private sealed class ImagesPhase() : UnitPhase("images", new ArtifactSpec("beat_image") { AllowedMediaTypes = [MediaTypes.Png] })
    {
        public override async Task<int> CountUnitsAsync(PhaseContext context, CancellationToken cancellationToken) =>
            (await context.ReadJsonInputAsync<JsonElement>("spec", "spec", cancellationToken: cancellationToken)).GetProperty("beats").GetInt32();

        public override async Task<UnitResult> GenerateUnitAsync(UnitContext context, CancellationToken cancellationToken)
        {
            byte[] png = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, (byte)context.UnitIndex, 1, 2, 3, 4, 5, 6, 7];
            using var stream = new MemoryStream(png);
            var blob = await context.PutBlobAsync(stream, cancellationToken: cancellationToken);
            return new UnitResult(ArtifactContent.FromBlob(blob), new ArtifactMetadata(Prompt: $"beat {context.UnitIndex}"), Cost: 0.1m);
        }
    }

    private sealed class FinalPhase() : Phase("final")
    {
        public override IReadOnlyList<ArtifactSpec> Artifacts { get; } = [new ArtifactSpec("final")];

        public override Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken)
        {
            var summary = JsonSerializer.SerializeToElement(new { images = context.GetInputPins("beat_image").Count });
            return Task.FromResult(new PhaseResult([new PhaseArtifact("final", "final", ArtifactContent.FromJson(summary))], summary));
        }
    }
}
