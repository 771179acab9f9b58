using System.Text.Json.Nodes;
using Checkpointing.Providers.Replicate.Testing;

namespace Checkpointing.Providers.Replicate.Tests;

/// <summary>File inputs of a <see cref="GenerationRequest"/> (<see cref="GenerationRequest.Blobs"/>) and the video model catalogue.</summary>
public sealed class FileInputTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_small_blob_input_goes_as_a_data_uri_under_the_input_each_model_family_expects()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.KlingV21] = new FakeModel { RequiredInputs = ["prompt", "start_image"] };
        fake.Models[ReplicateModels.Hailuo02] = new FakeModel { RequiredInputs = ["prompt", "first_frame_image"] };
        fake.Models[ReplicateModels.Veo3] = new FakeModel { RequiredInputs = ["prompt", "image"] };
        await using var services = TestHost.Create(fake);
        var root = Directory.CreateTempSubdirectory("replicate-blob-input-");
        try
        {
            var store = new FileSystemBlobStore(root.FullName);
            var png = FakeReplicateServer.MakeFile(".png", "frame", 0);
            using var content = new MemoryStream(png);
            var blob = await store.PutAsync(content, MediaTypes.Png, Ct);
            var frame = new GenerationBlobInput(blob, store);
            var dataUri = $"data:image/png;base64,{Convert.ToBase64String(png)}";

            foreach (var (model, key) in new[] { (ReplicateModels.KlingV21, "start_image"), (ReplicateModels.Hailuo02, "first_frame_image"), (ReplicateModels.Veo3, "image") })
            {
                var request = ReplicateModels.ImageToVideo("a fox runs", frame, durationSeconds: 5, seed: 3, model: model);
                var id = await services.Backend().SubmitAsync(request, Ct);
                var sent = fake.Get(id).Input;
                Assert.Equal(dataUri, sent[key]!.GetValue<string>());
                Assert.Equal(2 + (key == "image" ? 1 : 0) + 1, sent.Count); // prompt, duration, the frame, and Veo's seed
                Assert.False(request.Input.ContainsKey(key)); // the caller's request is left as it was
            }

            Assert.Empty(fake.Uploads);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_large_stream_input_is_uploaded_to_the_files_api_and_sent_by_its_url()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.KlingV21] = new FakeModel { RequiredInputs = ["prompt", "start_image"] };
        await using var services = TestHost.Create(fake, o => o.InlineFileLimit = 1024);
        var png = FakeReplicateServer.MakeFile(".png", "large frame", 0);
        Assert.True(png.Length > 1024);
        var opened = 0;
        var frame = new GenerationBlobInput(MediaTypes.Png, _ =>
        {
            Interlocked.Increment(ref opened);
            return Task.FromResult<Stream>(new MemoryStream(png));
        });

        var id = await services.Backend().SubmitAsync(ReplicateModels.ImageToVideo("a fox runs", frame, model: ReplicateModels.KlingV21), Ct);

        var upload = Assert.Single(fake.Uploads);
        Assert.Equal(png, upload.Value.Bytes);
        Assert.Equal(MediaTypes.Png, upload.Value.Type);
        Assert.Equal(new Uri(fake.BaseUrl, $"files/{upload.Key}").ToString(), fake.Get(id).Input["start_image"]!.GetValue<string>());
        Assert.Equal(1, opened);
    }

    [Fact]
    public async Task A_file_input_that_names_an_input_the_request_sets_is_refused_before_anything_is_sent()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        await using var services = TestHost.Create(fake);
        var frame = new GenerationBlobInput(MediaTypes.Png, _ => Task.FromResult<Stream>(new MemoryStream([1, 2, 3])));
        var request = ReplicateModels.Video("p", "https://example.com/f.png", model: ReplicateModels.Hailuo02)
            with { Blobs = new Dictionary<string, GenerationBlobInput> { [GenerationBlobInput.FirstFrame] = frame } };

        var e = await Assert.ThrowsAsync<ArgumentException>(() => services.Backend().SubmitAsync(request, Ct));
        Assert.Contains("'first_frame_image' twice", e.Message, StringComparison.Ordinal);
        Assert.Empty(fake.RequestsOf("create"));
        Assert.Empty(fake.Uploads);
    }

    [Theory]
    [InlineData("kwaivgi/kling-v2.1", 4.2, 5, "start_image")]
    [InlineData("kwaivgi/kling-v2.1", 5, 5, "start_image")]
    [InlineData("kwaivgi/kling-v1.6-pro", 7, 10, "start_image")]
    [InlineData("minimax/hailuo-02", 2.5, 6, "first_frame_image")]
    [InlineData("minimax/hailuo-02", 12, 10, "first_frame_image")]
    [InlineData("minimax/video-01-live", 3, 6, "first_frame_image")]
    [InlineData("google/veo-3", 2, 8, "image")]
    [InlineData("google/veo-3-fast:0123456789abcdef", 9, 8, "image")]
    [InlineData("wan-video/wan-2.2-i2v-fast", 3.5, 4, "image")]
    public void The_catalogue_gives_clip_lengths_and_the_first_frame_input_per_model_and_version(string model, double seconds, int length, string firstFrame)
    {
        Assert.Equal(length, ReplicateModels.ClipLength(model, seconds));
        Assert.Equal(firstFrame, ReplicateModels.FindVideoModel(model)?.FirstFrameInput ?? "image");
        var request = ReplicateModels.ImageToVideo("p", new GenerationBlobInput(MediaTypes.Png, _ => Task.FromResult<Stream>(new MemoryStream())), model: model);
        Assert.Contains(GenerationBlobInput.FirstFrame, request.Blobs.Keys);
    }

    [Fact]
    public void The_catalogue_matches_whole_names_only_and_refuses_impossible_lengths()
    {
        Assert.Equal(ReplicateModels.Veo3Fast, ReplicateModels.FindVideoModel("google/veo-3-fast")!.Model);
        Assert.Equal(ReplicateModels.Veo3, ReplicateModels.FindVideoModel("GOOGLE/VEO-3")!.Model);
        Assert.Null(ReplicateModels.FindVideoModel("kwaivgi/klingon"));
        Assert.Null(ReplicateModels.FindVideoModel("black-forest-labs/flux-dev"));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReplicateModels.ClipLength(ReplicateModels.Veo3, double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReplicateModels.ClipLength(ReplicateModels.Veo3, 0));
        Assert.True(JsonNode.DeepEquals(
            JsonNode.Parse("""{"prompt":"p","duration":6}"""),
            ReplicateModels.ImageToVideo("p", new GenerationBlobInput(MediaTypes.Png, _ => Task.FromResult<Stream>(new MemoryStream())), 6, "16:9", 3, ReplicateModels.Hailuo02).Input));
    }
}
