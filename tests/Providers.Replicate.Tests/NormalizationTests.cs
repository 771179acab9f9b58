using System.Net;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;

namespace Checkpointing.Providers.Replicate.Tests;

public sealed class NormalizationTests
{
    private static IReadOnlyList<GenerationOutput> Normalize(string predictionJson) =>
        OutputNormalizer.Normalize(Prediction.Parse(Encoding.UTF8.GetBytes(predictionJson)), (_, _) => Task.FromResult<Stream>(new MemoryStream()));

    [Fact]
    public void A_single_url_becomes_one_file_with_a_media_type_from_its_extension()
    {
        var outputs = Normalize("""{"id":"p1","status":"succeeded","output":"https://replicate.delivery/pbxt/abc/out-0.mp4"}""");

        var file = Assert.IsType<FileOutput>(Assert.Single(outputs));
        Assert.Equal(new Uri("https://replicate.delivery/pbxt/abc/out-0.mp4"), file.Source);
        Assert.Equal(MediaTypes.Mp4, file.MediaType);
    }

    [Fact]
    public async Task A_data_uri_becomes_a_file_with_its_decoded_bytes()
    {
        var outputs = Normalize("""{"id":"p1","status":"succeeded","urls":{"get":"https://api.replicate.com/v1/predictions/p1"},"output":["data:image/png;base64,iVBORw0KGgo=","data:text/plain,hello%20world"]}""");

        Assert.Equal(2, outputs.Count);
        var png = Assert.IsType<FileOutput>(outputs[0]);
        Assert.Equal(MediaTypes.Png, png.MediaType);
        Assert.Equal("https://api.replicate.com/v1/predictions/p1#output-0", png.Source.ToString());
        Assert.Equal(Convert.FromBase64String("iVBORw0KGgo="), await ((FileOutput)outputs[0]).ReadAllAsync());
        Assert.Equal("hello world", Encoding.UTF8.GetString(await ((FileOutput)outputs[1]).ReadAllAsync()));
    }

    [Fact]
    public void Tokens_join_and_plain_values_become_text()
    {
        Assert.Equal("Hello, world", Assert.IsType<TextOutput>(Assert.Single(Normalize("""{"id":"p","output":["Hello",","," world"]}"""))).Text);
        Assert.Equal("just text", Assert.IsType<TextOutput>(Assert.Single(Normalize("""{"id":"p","output":"just text"}"""))).Text);
        Assert.Equal("""{"video":"x"}""", Assert.IsType<TextOutput>(Assert.Single(Normalize("""{"id":"p","output":{"video":"x"}}"""))).Text);
        Assert.Empty(Normalize("""{"id":"p","output":null,"data_removed":true}"""));
    }

    [Fact]
    public void Cost_adds_every_priced_part_and_aborted_is_free()
    {
        var price = new ReplicatePrice { PerPrediction = 0.01m, PerImage = 0.02m, PerVideoSecond = 0.1m, PerPredictSecond = 0.001m, PerInputToken = 0.0001m, PerOutputToken = 0.0002m };
        var json = """{"id":"p","status":"STATUS","input":{"duration":"6"},"output":["https://x/a.png","https://x/b.png"],"metrics":{"predict_time":10,"input_token_count":100,"output_token_count":50}}""";
        decimal Cost(string status)
        {
            var prediction = Prediction.Parse(Encoding.UTF8.GetBytes(json.Replace("STATUS", status, StringComparison.Ordinal)));
            return CostCalculator.Compute(prediction, price, OutputNormalizer.Normalize(prediction, (_, _) => Task.FromResult<Stream>(new MemoryStream())));
        }

        Assert.Equal(0.01m + 0.04m + 0.6m + 0.01m + 0.01m + 0.01m, Cost("succeeded"));
        Assert.Equal(0.01m + 0.01m + 0.01m, Cost("canceled"));
        Assert.Equal(0m, Cost("aborted"));
    }

    [Fact]
    public async Task A_retry_after_date_is_turned_into_a_wait_and_a_missing_hint_into_none()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero));
        var api = new ReplicateApi(Substitute.For<IHttpClientFactory>(), new ReplicateOptions { ApiToken = "t" }, NullLogger.Instance, time);
        using var dated = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        dated.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(time.GetUtcNow().AddSeconds(3));
        using var bare = new HttpResponseMessage(HttpStatusCode.TooManyRequests) { Content = new StringContent("""{"detail":"Request was throttled."}""") };
        using var fractional = new HttpResponseMessage(HttpStatusCode.TooManyRequests) { Content = new StringContent("""{"detail":"Your rate limit resets in ~2.5s."}""") };

        Assert.Equal(TimeSpan.FromSeconds(3), await api.ReadWaitHintAsync(dated, TestContext.Current.CancellationToken));
        Assert.Null(await api.ReadWaitHintAsync(bare, TestContext.Current.CancellationToken));
        Assert.Equal(TimeSpan.FromSeconds(2.5), await api.ReadWaitHintAsync(fractional, TestContext.Current.CancellationToken));
    }
}
