using System.Text.Json.Nodes;
using Checkpointing;
using Checkpointing.Providers.Replicate;
using Checkpointing.Providers.Replicate.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using VideoPipeline.Hosting;
using VideoPipeline.Phases;
using VideoPipeline.Tests.Support;

namespace VideoPipeline.Tests;

/// <summary>
/// The sample's Replicate adapter in process, against the fake API and a file blob store: the first frame read from
/// the blob store, and clip requests shaped per model family by the provider's catalogue.
/// </summary>
public sealed class ReplicateAdapterTests : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "videopipeline-adapter", Guid.NewGuid().ToString("N"));
    private FakeReplicateServer _fake = null!;
    private ServiceProvider _services = null!;
    private ReplicatePipelineBackend _adapter = null!;
    private IBlobStore _blobs = null!;

    public async ValueTask InitializeAsync()
    {
        _fake = await FakeReplicateServer.StartAsync();
        var clip = new FakeModel { Output = FakeOutputKind.SingleFile, Extension = ".mp4", Starting = TimeSpan.Zero, Processing = TimeSpan.FromMilliseconds(10) };
        _fake.Models[ReplicateModels.Hailuo02] = clip with { RequiredInputs = ["prompt", "first_frame_image"] };
        _fake.Models[ReplicateModels.KlingV21] = clip with { RequiredInputs = ["prompt", "start_image"] };
        _fake.Models[ReplicateModels.Veo3] = clip with { RequiredInputs = ["prompt", "image"] };
        var services = new ServiceCollection();
        services.AddCheckpointing(b => b
            .UseReplicate(o =>
            {
                o.ApiToken = FakeReplicateServer.Token;
                o.BaseUrl = _fake.BaseUrl;
                o.PollInterval = TimeSpan.FromMilliseconds(20);
            })
            .UseFileSystemBlobStore(o => o.RootPath = Path.Combine(_root, "blobs")));
        _services = services.BuildServiceProvider();
        _blobs = _services.GetRequiredService<IBlobStore>();
        _adapter = new ReplicatePipelineBackend(_services.GetRequiredService<ReplicateBackend>(), Options.Create(new VideoPipelineOptions()));
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        await _fake.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task The_first_frame_is_read_from_the_blob_store_and_sent_by_the_provider()
    {
        var png = MediaProbe.TinyPng(8, 8, 40);
        var blob = await _blobs.PutAsync(new MemoryStream(png), "image/png", TestContext.Current.CancellationToken);

        await _adapter.SubmitAsync(Clip(ReplicateModels.Hailuo02, blob, 3), TestContext.Current.CancellationToken);

        var sent = Input(Assert.Single(_fake.RequestsOf("create")));
        Assert.Equal("data:image/png;base64," + Convert.ToBase64String(png), sent["first_frame_image"]!.GetValue<string>());
        Assert.DoesNotContain(sent, p => p.Value?.ToString().Contains("file:", StringComparison.Ordinal) == true); // no local path leaves the machine
    }

    [Theory]
    [InlineData(ReplicateModels.Hailuo02, 3.0, "first_frame_image", 6, false)]
    [InlineData(ReplicateModels.Hailuo02, 7.5, "first_frame_image", 10, false)]
    [InlineData(ReplicateModels.KlingV21, 5.0, "start_image", 5, false)]
    [InlineData(ReplicateModels.KlingV21, 12.0, "start_image", 10, false)]
    [InlineData(ReplicateModels.Veo3, 2.5, "image", 8, true)]
    public async Task A_clip_request_takes_the_model_familys_input_names_and_clip_lengths(string model, double seconds, string frameInput, int duration, bool keepsSeed)
    {
        var png = MediaProbe.TinyPng(8, 8, 90);
        var blob = await _blobs.PutAsync(new MemoryStream(png), "image/png", TestContext.Current.CancellationToken);

        var id = await _adapter.SubmitAsync(Clip(model, blob, seconds), TestContext.Current.CancellationToken);
        var result = await _adapter.WaitAsync(id, TestContext.Current.CancellationToken);

        Assert.Equal(GenerationStatus.Succeeded, result.Status);
        var create = Assert.Single(_fake.RequestsOf("create"));
        Assert.Equal($"/v1/models/{model}/predictions", create.Path);
        var input = Input(create);
        Assert.Equal(
            new[] { "duration", frameInput, "prompt" }.Concat(keepsSeed ? ["seed"] : []).Order(StringComparer.Ordinal),
            input.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal("data:image/png;base64," + Convert.ToBase64String(png), input[frameInput]!.GetValue<string>());
        Assert.Equal(duration, input["duration"]!.GetValue<int>());
    }

    /// <summary>A clip request as the chunks phase makes it: neutral inputs, the beat image as the first-frame file input.</summary>
    private GenerationRequest Clip(string model, BlobReference firstFrame, double seconds) => new(model, new JsonObject
    {
        ["prompt"] = "a lamp, wide shot, smooth camera move",
        ["duration"] = seconds,
        ["seed"] = 4242L,
    })
    {
        Blobs = new Dictionary<string, GenerationBlobInput> { [GenerationBlobInput.FirstFrame] = new(firstFrame, _blobs) },
    };

    private static JsonObject Input(RecordedRequest create) => JsonNode.Parse(create.Body!)!["input"]!.AsObject();
}
