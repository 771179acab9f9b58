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

    private ServiceProvider BuildProvider(TimeProvider? time = null, Action<CheckpointingOptions>? options = null, StallGate? gate = null)
    {
        var services = new ServiceCollection();
        if (time is not null)
        {
            services.AddSingleton(time);
        }

        services.AddSingleton(gate ?? new StallGate(stall: false));
        services.AddCheckpointing(
            b =>
            {
                b.AddPipeline("demo", p => p
                        .AddPhase(new PlanPhase())
                        .AddPhase(new ImagesPhase())
                        .AddPhase(new FinalPhase()))
                    .AddPipeline("stall", p => p.AddPhase(new StallingPhase()).AddPhase(new FinalPhase()))
                    .UseFileSystemBlobStore(o => o.RootPath = _blobs);
                UseStore(b);
            },
            options);
        return services.BuildServiceProvider(validateScopes: true);
    }

    /// <summary>
    /// An executor stalled past its lease (its clock says the lease is long gone, and it never renews) is taken over by
    /// another; when it wakes, its writes are refused and leave no trace, and the run ends as the new owner left it.
    /// </summary>
    [Fact]
    public async Task A_stalled_executor_is_fenced_out_after_another_takes_the_run_over()
    {
        var gate = new StallGate(stall: true);
        await using var stalled = BuildProvider(new ShiftedTime(TimeSpan.FromHours(-2)), o => o.LeaseDuration = TimeSpan.FromHours(1), gate);
        await using var taker = BuildProvider();
        var store = taker.GetRequiredService<ICheckpointStore>();
        using var input = JsonDocument.Parse("{\"topic\":\"fence\"}");
        var runId = Guid.NewGuid();

        // The first executor starts the run and stalls inside unit 1 (as a process stopped with SIGSTOP would).
        var first = stalled.GetRequiredService<CheckpointRunner>().StartAsync(new StartRunRequest("stall", "user-1", input.RootElement) { RunId = runId }, Ct);
        await gate.Reached.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        // Its lease has expired by the store's clock: another executor takes over and finishes the phase.
        var taken = await taker.GetRequiredService<CheckpointRunner>().RetryAsync(runId, Ct);
        Assert.Equal(RunStatus.Paused, taken.Status);
        var afterTakeover = (await store.GetRunAsync(runId, Ct))!;
        var checkpoints = await store.ListCheckpointsAsync(runId, null, Ct);

        // The first one wakes up: its unit's write carries the old token and is refused; nothing it does is visible.
        gate.Release();
        var result = await first.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        var final = (await store.GetRunAsync(runId, Ct))!;
        Assert.Equal(RunStatus.Paused, result.Status);
        Assert.Null(result.Checkpoint);
        Assert.Equal(afterTakeover with { Input = final.Input }, final);
        Assert.Equal(checkpoints.Select(c => (c.Id, c.Cost)), (await store.ListCheckpointsAsync(runId, null, Ct)).Select(c => (c.Id, c.Cost)));
        Assert.Single(checkpoints);
        Assert.Equal(0.1m, final.Cost);
        Assert.True(final.LeaseToken > 1);
        Assert.True(gate.Refused, "the stalled executor's write was not refused");
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
            Assert.Equal(1, checkpoints[1].ParentRevision);
            Assert.Contains(await store.GetArtifactsAsync(checkpoints[0].Id, checkpoints[1].ParentRevision!.Value, Ct), a => a.Type == "spec" && a.Version == 2);
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

    /// <summary>Makes unit 1 of <see cref="StallingPhase"/> wait until released (in the executor that stalls).</summary>
    private sealed class StallGate(bool stall)
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Stalls => stall;

        public bool Refused { get; set; }

        public void Release() => _release.TrySetResult();

        public async Task PassAsync(int unit, CancellationToken cancellationToken)
        {
            if (stall && unit == 1)
            {
                Reached.TrySetResult();
                await _release.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>A clock shifted by a fixed offset (timers run in real time).</summary>
    private sealed class ShiftedTime(TimeSpan offset) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + offset;
    }

    private sealed class StallingPhase() : UnitPhase("stalling", new ArtifactSpec("beat_image") { AllowedMediaTypes = [MediaTypes.Png] })
    {
        public override Task<int> CountUnitsAsync(PhaseContext context, CancellationToken cancellationToken) => Task.FromResult(1);

        public override async Task<UnitResult> GenerateUnitAsync(UnitContext context, CancellationToken cancellationToken)
        {
            var gate = context.Services.GetRequiredService<StallGate>();
            await gate.PassAsync(context.UnitIndex, cancellationToken).ConfigureAwait(false);
            if (gate.Stalls && context.UnitIndex == 1)
            {
                // Woken after the takeover: the journal write that follows this unit must be refused.
                try
                {
                    await context.Services.GetRequiredService<ICheckpointStore>().SaveJobAsync(context.Run.Id, "probe", "probe", "job", context.Run.LeaseToken, cancellationToken).ConfigureAwait(false);
                }
                catch (LeaseLostException)
                {
                    gate.Refused = true;
                }
            }

            byte[] png = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, (byte)context.UnitIndex, 9, 9, 9];
            using var stream = new MemoryStream(png);
            var blob = await context.PutBlobAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
            return new UnitResult(ArtifactContent.FromBlob(blob), new ArtifactMetadata(Prompt: $"beat {context.UnitIndex}"), Cost: 0.1m);
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

        public override async Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken)
        {
            var summary = JsonSerializer.SerializeToElement(new { images = (await context.GetInputPinsAsync("beat_image", cancellationToken)).Count });
            return new PhaseResult([new PhaseArtifact("final", "final", ArtifactContent.FromJson(summary))], summary);
        }
    }
}
