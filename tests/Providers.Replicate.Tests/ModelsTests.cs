using System.Text.Json.Nodes;
using Checkpointing.Providers.Replicate.Testing;

namespace Checkpointing.Providers.Replicate.Tests;

public sealed class ModelsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Video_inputs_put_the_first_frame_where_each_model_family_expects_it()
    {
        var kling = ReplicateModels.Video("p", "https://x/f.png", durationSeconds: 5, aspectRatio: "16:9", seed: 3, model: ReplicateModels.KlingV21).Input;
        var hailuo = ReplicateModels.Video("p", "https://x/f.png", durationSeconds: 6, aspectRatio: "16:9", seed: 3, model: ReplicateModels.Hailuo02).Input;
        var veo = ReplicateModels.Video("p", "https://x/f.png", durationSeconds: 8, aspectRatio: "16:9", seed: 3, model: ReplicateModels.Veo3Fast).Input;

        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"prompt":"p","start_image":"https://x/f.png","aspect_ratio":"16:9","duration":5}"""), kling));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"prompt":"p","first_frame_image":"https://x/f.png","duration":6}"""), hailuo));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"prompt":"p","image":"https://x/f.png","aspect_ratio":"16:9","duration":8,"seed":3}"""), veo));
        Assert.Throws<ArgumentException>(() => ReplicateModels.Video("p", model: ReplicateModels.KlingV21));
    }

    [Fact]
    public void Image_and_text_builders_set_only_what_is_given()
    {
        var image = ReplicateModels.Image("fox", aspectRatio: "9:16", seed: 42);
        var text = ReplicateModels.Text("plan", temperature: 0.2);

        Assert.Equal(ReplicateModels.DefaultImage, image.Model);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"prompt":"fox","aspect_ratio":"9:16","seed":42}"""), image.Input));
        Assert.Equal(ReplicateModels.DefaultText, text.Model);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"prompt":"plan","temperature":0.2}"""), text.Input));
    }

    [Fact]
    public async Task The_video_alias_resolves_to_the_configured_model_and_adapts_the_first_frame()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.KlingV21] = new FakeModel { RequiredInputs = ["prompt", "start_image"] };
        fake.Models[ReplicateModels.FluxSchnell] = new FakeModel();
        await using var services = TestHost.Create(fake, o =>
        {
            o.DefaultVideoModel = ReplicateModels.KlingV21;
            o.DefaultImageModel = ReplicateModels.FluxSchnell;
        });

        var video = await services.Backend().SubmitAsync(ReplicateModels.Video("run", "https://x/f.png", durationSeconds: 5, seed: 9), Ct);
        var image = await services.Backend().SubmitAsync(ReplicateModels.Image("still"), Ct);

        Assert.Equal("/v1/models/kwaivgi/kling-v2.1/predictions", fake.RequestsOf("create")[0].Path);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"prompt":"run","duration":5,"start_image":"https://x/f.png"}"""), fake.Get(video).Input));
        Assert.Equal("/v1/models/black-forest-labs/flux-schnell/predictions", fake.RequestsOf("create")[1].Path);
        Assert.Equal(ReplicateModels.FluxSchnell, fake.Get(image).Model);
    }

    [Theory]
    [InlineData(4.2, "5s")]
    [InlineData(30, "30s")]
    [InlineData(90.5, "91s")]
    [InlineData(1800, "1800s")]
    public void Cancel_after_is_whole_seconds_with_the_five_second_minimum(double seconds, string expected) =>
        Assert.Equal(expected, ReplicateBackend.FormatCancelAfter(TimeSpan.FromSeconds(seconds)));
}
