using System.Net;
using Checkpointing.Providers.Replicate.Testing;

namespace Checkpointing.Providers.Replicate.Tests;

public sealed class RetryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> Hints => ["Retry-After header", "retry_after body", "~Ns detail"];

    [Theory]
    [MemberData(nameof(Hints))]
    public async Task A_throttled_create_waits_as_long_as_the_server_says_then_creates_once(string hint)
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.FluxSchnell] = new FakeModel();
        fake.Inject("create", hint switch
        {
            "Retry-After header" => FakeFault.Problem(429, "Request was throttled.", new Dictionary<string, string> { ["Retry-After"] = "1" }),
            "retry_after body" => FakeFault.Problem(429, "Request was throttled.", extraJson: "\"retry_after\":1"),
            _ => FakeFault.Problem(429, "Request was throttled. Your rate limit resets in ~1s."),
        });
        await using var services = TestHost.Create(fake, o => o.RetryBaseDelay = TimeSpan.FromMilliseconds(10));

        var id = await services.Backend().SubmitAsync(ReplicateModels.Image("x", model: ReplicateModels.FluxSchnell), Ct);

        var creates = fake.RequestsOf("create");
        Assert.Equal(2, creates.Count);
        Assert.InRange(TestHost.Seconds(creates[0].Timestamp, creates[1].Timestamp), 0.95, 4.0);
        Assert.Equal(1, fake.CreateCount);
        Assert.Equal(fake.Predictions.Single().Id, id);
    }

    [Fact]
    public async Task A_throttled_create_without_a_hint_backs_off_with_jitter_and_gives_up_after_max_retries()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.FluxSchnell] = new FakeModel();
        for (var i = 0; i < 4; i++)
        {
            fake.Inject("create", FakeFault.Problem(429, "Request was throttled."));
        }

        await using var services = TestHost.Create(fake, o =>
        {
            o.MaxRetries = 3;
            o.RetryBaseDelay = TimeSpan.FromMilliseconds(100);
        });

        var error = await Assert.ThrowsAsync<ReplicateRateLimitedException>(() => services.Backend().SubmitAsync(ReplicateModels.Image("x", model: ReplicateModels.FluxSchnell), Ct));

        Assert.True(error.IsTransient);
        Assert.Equal("Request was throttled.", error.Detail);
        var creates = fake.RequestsOf("create");
        Assert.Equal(4, creates.Count);
        Assert.Equal(0, fake.CreateCount);
        var gaps = creates.Zip(creates.Skip(1), (a, b) => TestHost.Seconds(a.Timestamp, b.Timestamp)).ToList();
        // Jittered exponential backoff from 100 ms: never the ~1 s of a hint, never back to back, bounded overall.
        Assert.True(gaps.Sum() is > 0.05 and < 3.0, $"unexpected backoff: {string.Join(", ", gaps)}");
    }

    [Fact]
    public async Task Polls_are_retried_on_5xx_429_and_dropped_connections()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.FluxSchnell] = new FakeModel();
        await using var services = TestHost.Create(fake);
        var id = await services.Backend().SubmitAsync(ReplicateModels.Image("x", model: ReplicateModels.FluxSchnell), Ct);
        fake.Inject("get", FakeFault.Problem(503, "Service unavailable"));
        fake.Inject("get", FakeFault.Problem(429, "Slow down", new Dictionary<string, string> { ["Retry-After"] = "0" }));
        fake.Inject("get", new FakeFault { Abort = true });
        fake.Inject("get", FakeFault.Problem(500, "Internal error"));

        var result = await services.Backend().WaitAsync(id, Ct);

        Assert.Equal(GenerationStatus.Succeeded, result.Status);
        Assert.True(fake.RequestsOf("get").Count >= 5);
        Assert.Equal(1, fake.CreateCount);
    }

    [Fact]
    public async Task A_create_is_never_retried_on_a_5xx()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.FluxSchnell] = new FakeModel();
        fake.Inject("create", FakeFault.Problem(500, "boom"));
        await using var services = TestHost.Create(fake);

        var error = await Assert.ThrowsAsync<ReplicateServerException>(() => services.Backend().SubmitAsync(ReplicateModels.Image("x", model: ReplicateModels.FluxSchnell), Ct));

        Assert.Equal(HttpStatusCode.InternalServerError, error.StatusCode);
        Assert.Single(fake.RequestsOf("create"));
    }
}
