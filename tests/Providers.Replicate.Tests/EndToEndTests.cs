using System.Text.Json;
using Checkpointing.Providers.Replicate.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Checkpointing.Providers.Replicate.Tests;

public sealed class EndToEndTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Storyboard_image_then_video_chunk_land_in_the_blob_store_with_their_cost()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.FluxDev] = new FakeModel { Output = FakeOutputKind.FileArray, Extension = ".png" };
        fake.Models[ReplicateModels.Hailuo02] = new FakeModel
        {
            Output = FakeOutputKind.SingleFile,
            Extension = ".mp4",
            Starting = TimeSpan.FromMilliseconds(50),
            Processing = TimeSpan.FromMilliseconds(1000),
            PredictTime = 42.5,
        };
        var root = Directory.CreateTempSubdirectory("replicate-e2e-");
        try
        {
            await using var services = TestHost.Create(
                fake,
                o =>
                {
                    o.PollInterval = TimeSpan.FromMilliseconds(20);
                    o.PollBackoffFactor = 2;
                    o.MaxPollInterval = TimeSpan.FromMilliseconds(320);
                    o.Prices[ReplicateModels.Hailuo02] = new ReplicatePrice { PerVideoSecond = 0.045m };
                },
                more: b => b
                    .UseFileSystemBlobStore(o => o.RootPath = root.FullName)
                    .AddPipeline("video", p => p
                        .AddPhase(sp => new StoryboardPhase(sp.GetRequiredKeyedService<IGenerationBackend>(ReplicateBackend.BackendName)))
                        .AddPhase(sp => new ChunkPhase(sp.GetRequiredService<ReplicateBackend>()))));

            var runner = services.GetRequiredService<CheckpointRunner>();
            var queries = services.GetRequiredService<CheckpointQueries>();
            var result = await runner.StartAsync(new StartRunRequest("video", "user-1", JsonDocument.Parse("{}").RootElement) { AutoContinue = true }, Ct);

            Assert.Equal(RunStatus.Completed, result.Status);
            Assert.Equal(2, fake.CreateCount);
            var image = fake.Predictions[0];
            var video = fake.Predictions[1];

            // Phase 1: two FLUX images, $0.025 each, stored byte for byte.
            var checkpoints = await queries.ListCheckpointsAsync(result.Run.Id, cancellationToken: Ct);
            var storyboard = await queries.GetCheckpointAsync(checkpoints.Single(c => c.Phase == 1).Id, Ct);
            Assert.Equal(2, storyboard.Artifacts.Count);
            var store = new FileSystemBlobStore(root.FullName);
            for (var i = 0; i < 2; i++)
            {
                var blob = storyboard.Artifacts.Single(a => a.Artifact.Key == $"beat_{i + 1}").Artifact.Content.Blob!;
                Assert.Equal(MediaTypes.Png, blob.MediaType);
                Assert.Equal(fake.FileBytes(image.Files[i]), await ReadBlobAsync(store, blob.Hash));
            }

            Assert.Equal(0.05m, storyboard.Checkpoint.Cost);
            Assert.Equal(image.Id, storyboard.Artifacts[0].Artifact.Metadata.ExternalJobId);

            // Phase 2: the first beat image went in as a data: URI first frame; a 6 s clip at $0.045/s.
            var frame = video.Input["first_frame_image"]!.GetValue<string>();
            Assert.StartsWith("data:image/png;base64,", frame, StringComparison.Ordinal);
            Assert.Equal(fake.FileBytes(image.Files[0]), Convert.FromBase64String(frame["data:image/png;base64,".Length..]));
            var chunks = await queries.GetCheckpointAsync(checkpoints.Single(c => c.Phase == 2).Id, Ct);
            var clip = chunks.Artifacts.Single().Artifact.Content.Blob!;
            Assert.Equal(MediaTypes.Mp4, clip.MediaType);
            Assert.Equal(fake.FileBytes(video.Files[0]), await ReadBlobAsync(store, clip.Hash));
            Assert.Equal(0.27m, chunks.Checkpoint.Cost);
            Assert.Equal(0.32m, (await queries.GetRunAsync(result.Run.Id, Ct)).Cost);

            // The video was polled with growing gaps, carried the default Cancel-After, and files were fetched with the token.
            var create = fake.RequestsOf("create")[1];
            Assert.Equal("1800s", create.Header("Cancel-After"));
            Assert.Null(create.Header("Prefer"));
            var polls = fake.RequestsOf("get").Where(r => r.Path.Contains(video.Id, StringComparison.Ordinal)).ToList();
            Assert.InRange(polls.Count, 3, 15);
            var firstGap = TestHost.Seconds(polls[0].Timestamp, polls[1].Timestamp);
            var lastGap = TestHost.Seconds(polls[^2].Timestamp, polls[^1].Timestamp);
            Assert.True(lastGap > firstGap * 2, $"poll gaps did not grow: first {firstGap:F3}s, last {lastGap:F3}s");
            Assert.All(fake.RequestsOf("download"), r => Assert.Equal($"Bearer {FakeReplicateServer.Token}", r.Header("Authorization")));
            Assert.Equal(3, fake.RequestsOf("download").Count);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_restarted_process_retrying_the_run_reattaches_to_the_journaled_prediction()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.Veo3] = new FakeModel { Output = FakeOutputKind.SingleFile, Extension = ".mp4", Processing = TimeSpan.FromMilliseconds(1500) };
        var store = new InMemoryCheckpointStore();
        var root = Directory.CreateTempSubdirectory("replicate-restart-");
        try
        {
            ServiceProvider Process() => TestHost.Create(fake, more: b => b
                .UseStore(_ => store)
                .UseFileSystemBlobStore(o => o.RootPath = root.FullName)
                .AddPipeline("clip", p => p.AddPhase(sp => new ClipPhase(sp.GetRequiredService<ReplicateBackend>()))));

            var first = Process();
            var run = first.GetRequiredService<CheckpointRunner>().StartAsync(new StartRunRequest("clip", "user-1", JsonDocument.Parse("{}").RootElement) { AutoContinue = true }, Ct);
            while (fake.RequestsOf("get").Count < 2)
            {
                await Task.Delay(10, Ct);
            }

            await first.DisposeAsync();
            var interrupted = await run;
            Assert.NotEqual(RunStatus.Completed, interrupted.Status);
            Assert.False(fake.Predictions.Single().IsTerminal);

            await using var second = Process();
            var resumed = await second.GetRequiredService<CheckpointRunner>().RetryAsync(interrupted.Run.Id, Ct);

            Assert.Equal(RunStatus.Completed, resumed.Status);
            Assert.Equal(1, fake.CreateCount);
            Assert.Empty(fake.RequestsOf("cancel"));
            var clip = await second.GetRequiredService<CheckpointQueries>().GetCheckpointAsync(resumed.Checkpoint!.Id, Ct);
            var blob = clip.Artifacts.Single().Artifact.Content.Blob!;
            Assert.Equal(fake.FileBytes(fake.Predictions.Single().Files[0]), await ReadBlobAsync(new FileSystemBlobStore(root.FullName), blob.Hash));
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_large_first_frame_goes_through_the_files_api_and_the_video_streams_into_the_blob_store()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.KlingV21] = new FakeModel { Output = FakeOutputKind.SingleFile, Extension = ".mp4", RequiredInputs = ["prompt", "start_image"] };
        await using var services = TestHost.Create(fake, o =>
        {
            o.InlineFileLimit = 1024;
            o.Prices[ReplicateModels.KlingV21] = new ReplicatePrice { PerVideoSecond = 0.05m };
        });
        var backend = services.Backend();
        var png = FakeReplicateServer.MakeFile(".png", "frame", 0);
        Assert.True(png.Length > 1024);

        var frame = await backend.PrepareFileInputAsync(new NonSeekableStream(png), MediaTypes.Png, Ct);

        var upload = Assert.Single(fake.Uploads);
        Assert.Equal(new Uri(fake.BaseUrl, $"files/{upload.Key}").ToString(), frame);
        Assert.Equal(png, upload.Value.Bytes);
        Assert.Equal(MediaTypes.Png, upload.Value.Type);
        Assert.Equal("input.png", upload.Value.Name);

        var id = await backend.SubmitAsync(ReplicateModels.Video("a fox runs", frame, durationSeconds: 10, model: ReplicateModels.KlingV21), Ct);
        var result = await backend.WaitAsync(id, Ct);

        Assert.Equal(GenerationStatus.Succeeded, result.Status);
        Assert.Equal(frame, fake.Get(id).Input["start_image"]!.GetValue<string>());
        Assert.Equal(0.5m, result.Cost);
        var file = Assert.IsType<FileOutput>(Assert.Single(result.Outputs));
        Assert.Equal(MediaTypes.Mp4, file.MediaType);
        var root = Directory.CreateTempSubdirectory("replicate-blobs-");
        try
        {
            var store = new FileSystemBlobStore(root.FullName);
            await using var stream = await file.OpenReadAsync(Ct);
            var blob = await store.PutAsync(stream, file.MediaType!, Ct);
            Assert.Equal(fake.FileBytes(fake.Get(id).Files[0]), await ReadBlobAsync(store, blob.Hash));
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_small_file_input_is_inlined_as_a_data_uri_without_an_upload()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        await using var services = TestHost.Create(fake);
        var bytes = FakeReplicateServer.MakeFile(".png", "small", 0);

        var value = await services.Backend().PrepareFileInputAsync(new MemoryStream(bytes), MediaTypes.Png, Ct);

        Assert.Equal("data:image/png;base64," + Convert.ToBase64String(bytes), value);
        Assert.Empty(fake.Uploads);
    }

    private static async Task<byte[]> ReadBlobAsync(IBlobStore store, string hash)
    {
        await using var stream = await store.OpenReadAsync(hash, Ct);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, Ct);
        return copy.ToArray();
    }

    private sealed class StoryboardPhase(IGenerationBackend backend) : Phase("storyboard")
    {
        public override IReadOnlyList<ArtifactSpec> Artifacts { get; } = [new ArtifactSpec("beat_image")];

        public override async Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken)
        {
            var request = ReplicateModels.Image("a red fox at dawn", aspectRatio: "16:9", seed: 7, numOutputs: 2, model: ReplicateModels.FluxDev);
            var outcome = await context.GenerateAsync(backend, request, cancellationToken);
            return new PhaseResult(outcome.Files
                .Select((blob, i) => new PhaseArtifact("beat_image", $"beat_{i + 1}", ArtifactContent.FromBlob(blob), new ArtifactMetadata(Prompt: "a red fox at dawn", Model: outcome.Model, Seed: 7, ExternalJobId: outcome.JobId)))
                .ToList());
        }
    }

    private sealed class ChunkPhase(ReplicateBackend backend) : Phase("chunks")
    {
        public override IReadOnlyList<ArtifactSpec> Artifacts { get; } = [new ArtifactSpec("chunk")];

        public override async Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken)
        {
            var (content, blob) = await context.OpenInputAsync("beat_image", "beat_1", cancellationToken);
            string frame;
            await using (content)
            {
                frame = await backend.PrepareFileInputAsync(content, blob.MediaType, cancellationToken);
            }

            var outcome = await context.GenerateAsync(backend, ReplicateModels.Video("the fox runs", frame, durationSeconds: 6, model: ReplicateModels.Hailuo02), cancellationToken);
            return new PhaseResult([new PhaseArtifact("chunk", "chunk_1", ArtifactContent.FromBlob(outcome.Files.Single()), new ArtifactMetadata(Model: outcome.Model, ExternalJobId: outcome.JobId))]);
        }
    }
}

file sealed class ClipPhase(ReplicateBackend backend) : Phase("clip")
{
    public override IReadOnlyList<ArtifactSpec> Artifacts { get; } = [new ArtifactSpec("chunk")];

    public override async Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken)
    {
        var outcome = await context.GenerateAsync(backend, ReplicateModels.Video("tide", "https://example.com/f.png", durationSeconds: 8, model: ReplicateModels.Veo3), cancellationToken);
        return new PhaseResult([new PhaseArtifact("chunk", "chunk_1", ArtifactContent.FromBlob(outcome.Files.Single()))]);
    }
}

/// <summary>A stream that cannot seek, like a network body.</summary>
internal sealed class NonSeekableStream(byte[] bytes) : MemoryStream(bytes)
{
    public override bool CanSeek => false;
}
