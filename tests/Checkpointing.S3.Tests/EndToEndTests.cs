using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace Checkpointing.S3.Tests;

/// <summary>Core's runner, editor, queries and garbage collector with blobs on S3 through <c>UseS3</c>.</summary>
public sealed class EndToEndTests : IAsyncLifetime
{
    private readonly string _prefix = S3Server.NewPrefix();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => await S3Server.RequireAsync();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task A_fork_shares_unchanged_images_read_urls_serve_them_and_the_collector_keeps_them()
    {
        var services = new ServiceCollection();
        services.AddCheckpointing(b => b
            .AddPipeline("demo", p => p.AddPhase(new PlanPhase()).AddPhase(new ImagesPhase()).AddPhase(new FinalPhase()))
            .UseS3(o =>
            {
                var test = S3Server.Options(_prefix);
                o.BucketName = test.BucketName;
                o.KeyPrefix = test.KeyPrefix;
                o.ServiceUrl = test.ServiceUrl;
                o.ForcePathStyle = true;
                o.ChecksumCalculation = test.ChecksumCalculation;
                o.AccessKey = test.AccessKey;
                o.SecretKey = test.SecretKey;
            }));
        await using var provider = services.BuildServiceProvider(validateScopes: true);
        var runner = provider.GetRequiredService<CheckpointRunner>();
        var editor = provider.GetRequiredService<CheckpointEditor>();
        var queries = provider.GetRequiredService<CheckpointQueries>();
        using var input = JsonDocument.Parse("""{"topic":"lighthouse"}""");

        var plan = (await runner.StartAsync(new StartRunRequest("demo", "user-1", input.RootElement), Ct)).Checkpoint!;
        var onMain = await runner.ContinueAsync(plan.Id, cancellationToken: Ct);
        await editor.PatchJsonAsync(plan.Id, "spec", "spec", """{"beats":2}""", cancellationToken: Ct);
        var forked = await runner.ContinueAsync(plan.Id, cancellationToken: Ct);

        Assert.Equal(("main", false), (onMain.Branch, onMain.BranchCreated));
        Assert.Equal(("main-1", true), (forked.Branch, forked.BranchCreated));

        // Three image artifacts (beat 1 on main, beats 1 and 2 on main-1) but two objects: beat 1 is the same bytes.
        var mainImages = (await queries.GetCheckpointAsync(onMain.Checkpoint!.Id, Ct)).Artifacts;
        var forkImages = (await queries.GetCheckpointAsync(forked.Checkpoint!.Id, Ct)).Artifacts;
        Assert.Equal(mainImages[0].Artifact.Content.Blob!.Hash, forkImages[0].Artifact.Content.Blob!.Hash);
        Assert.NotEqual(forkImages[0].Artifact.Content.Blob!.Hash, forkImages[1].Artifact.Content.Blob!.Hash);
        Assert.Equal(
            forkImages.Select(a => _prefix + a.Artifact.Content.Blob!.Hash).Order(StringComparer.Ordinal),
            (await S3Server.KeysAsync(_prefix)).Order(StringComparer.Ordinal));

        using var http = new HttpClient();
        foreach (var view in forkImages)
        {
            Assert.Equal(ImagesPhase.Png(int.Parse(view.Artifact.Key[^1..], System.Globalization.CultureInfo.InvariantCulture)), await http.GetByteArrayAsync(view.ReadUrl!, Ct));
        }

        // An unreferenced blob is collected; referenced ones stay.
        var blobs = provider.GetRequiredService<IBlobStore>();
        var orphan = await blobs.PutAsync(new MemoryStream([9, 9, 9]), MediaTypes.OctetStream, Ct);
        var collector = new BlobGarbageCollector(provider.GetRequiredService<ICheckpointStore>(), blobs);
        Assert.Equal([orphan.Hash], await collector.CollectAsync(TimeSpan.Zero, Ct));
        Assert.Equal(2, (await S3Server.KeysAsync(_prefix)).Count);
    }

    private sealed class PlanPhase() : Phase("plan")
    {
        public override IReadOnlyList<ArtifactSpec> Artifacts { get; } =
            [new ArtifactSpec("spec") { AllowedEdits = EditKinds.PatchJson, IsPhaseOutput = true }];

        public override Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken)
        {
            var spec = JsonSerializer.SerializeToElement(new { beats = 1 });
            return Task.FromResult(new PhaseResult([new PhaseArtifact("spec", "spec", ArtifactContent.FromJson(spec))], spec));
        }
    }

    private sealed class ImagesPhase() : UnitPhase("images", new ArtifactSpec("beat_image") { AllowedMediaTypes = [MediaTypes.Png] })
    {
        public static byte[] Png(int index) => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, (byte)index, 1, 2, 3, 4, 5, 6, 7];

        public override async Task<int> CountUnitsAsync(PhaseContext context, CancellationToken cancellationToken) =>
            (await context.ReadJsonInputAsync<JsonElement>("spec", "spec", cancellationToken: cancellationToken)).GetProperty("beats").GetInt32();

        public override async Task<UnitResult> GenerateUnitAsync(UnitContext context, CancellationToken cancellationToken)
        {
            using var stream = new MemoryStream(Png(context.UnitIndex));
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
