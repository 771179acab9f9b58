using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Checkpointing.Providers.Replicate.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Checkpointing.Providers.Replicate.Tests;

public sealed class WebhookTests
{
    private const string Secret = "whsec_ZmFrZS1zZXJ2ZXItc2lnbmluZy1rZXktMDEyMzQ1Ng==";
    private const string Id = "msg_fake0001";
    private const string Timestamp = "1735689600";
    private const string Body = """{"id":"p-test-1","status":"succeeded","output":["https://replicate.delivery/x/out-0.webp"]}""";
    private const string Expected = "v1,+bAmb/Qjv39JkeeJlLm39g5ISVtbMYH76Fle8QAhr54=";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static FakeTimeProvider ClockAt(long unixSeconds) => new(DateTimeOffset.FromUnixTimeSeconds(unixSeconds));

    [Fact]
    public void The_reference_test_vector_verifies()
    {
        var verifier = new ReplicateWebhookVerifier(Secret, ClockAt(1735689600));

        var delivery = verifier.Verify(Id, Timestamp, Expected, Encoding.UTF8.GetBytes(Body));

        Assert.Equal(Id, delivery.WebhookId);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1735689600), delivery.Timestamp);
        Assert.False(delivery.IsDuplicate);
        Assert.Equal(Expected, ReplicateWebhookVerifier.Sign(Secret, Id, 1735689600, Encoding.UTF8.GetBytes(Body)));
    }

    [Fact]
    public void Headers_are_read_through_a_lookup_and_any_matching_entry_of_several_is_enough()
    {
        var verifier = new ReplicateWebhookVerifier(Secret, ClockAt(1735689600 + 299));
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["Webhook-Id"] = Id,
            ["Webhook-Timestamp"] = Timestamp,
            ["Webhook-Signature"] = "v2,ignored v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1,not-base64 " + Expected,
        };

        var delivery = verifier.Verify(name => headers.GetValueOrDefault(name), Encoding.UTF8.GetBytes(Body));

        Assert.Equal(Id, delivery.WebhookId);
    }

    [Fact]
    public void A_tampered_body_is_rejected()
    {
        var verifier = new ReplicateWebhookVerifier(Secret, ClockAt(1735689600));
        var tampered = Body.Replace("succeeded", "failed", StringComparison.Ordinal);

        var error = Assert.Throws<ReplicateWebhookSignatureException>(() => verifier.Verify(Id, Timestamp, Expected, Encoding.UTF8.GetBytes(tampered)));

        Assert.Contains("no v1 signature", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_wrong_secret_is_rejected()
    {
        var verifier = new ReplicateWebhookVerifier("whsec_" + Convert.ToBase64String(Encoding.UTF8.GetBytes("another-signing-key-0123456789ab")), ClockAt(1735689600));

        Assert.Throws<ReplicateWebhookSignatureException>(() => verifier.Verify(Id, Timestamp, Expected, Encoding.UTF8.GetBytes(Body)));
    }

    [Theory]
    [InlineData(301)]
    [InlineData(-301)]
    public void A_stale_or_future_timestamp_is_rejected(int offsetSeconds)
    {
        var verifier = new ReplicateWebhookVerifier(Secret, ClockAt(1735689600 + offsetSeconds));

        var error = Assert.Throws<ReplicateWebhookSignatureException>(() => verifier.Verify(Id, Timestamp, Expected, Encoding.UTF8.GetBytes(Body)));

        Assert.Contains("timestamp", error.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, Timestamp, Expected)]
    [InlineData(Id, null, Expected)]
    [InlineData(Id, Timestamp, null)]
    [InlineData(Id, "yesterday", Expected)]
    [InlineData("msg_other", Timestamp, Expected)]
    public void Missing_or_wrong_headers_are_rejected(string? id, string? timestamp, string? signature)
    {
        var verifier = new ReplicateWebhookVerifier(Secret, ClockAt(1735689600));

        Assert.Throws<ReplicateWebhookSignatureException>(() => verifier.Verify(id, timestamp, signature, Encoding.UTF8.GetBytes(Body)));
    }

    [Fact]
    public void A_redelivery_with_the_same_id_is_a_duplicate()
    {
        var verifier = new ReplicateWebhookVerifier(Secret, ClockAt(1735689600));
        var body = Encoding.UTF8.GetBytes(Body);

        Assert.False(verifier.Verify(Id, Timestamp, Expected, body).IsDuplicate);
        Assert.True(verifier.Verify(Id, Timestamp, Expected, body).IsDuplicate);
    }

    [Fact]
    public void A_secret_that_is_not_whsec_base64_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new ReplicateWebhookVerifier("whsec_***"));
    }

    [Fact]
    public async Task A_verified_completion_wakes_every_wait_long_before_the_next_poll()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.DuplicateWebhooks = true;
        fake.Models[ReplicateModels.Hailuo02] = new FakeModel { Output = FakeOutputKind.SingleFile, Extension = ".mp4", Processing = TimeSpan.FromMilliseconds(300) };
        await using var services = TestHost.Create(fake, o =>
        {
            o.PollInterval = TimeSpan.FromSeconds(30);
            o.MaxPollInterval = TimeSpan.FromSeconds(30);
            o.WebhookUrl = new Uri(fake.Root, "hooks");
            o.WebhookSecret = FakeReplicateServer.WebhookSecret;
        });
        var backend = services.Backend();
        var receipts = new List<ReplicateWebhookReceipt>();
        fake.WebhookReceiver = async ctx =>
        {
            using var body = new MemoryStream();
            await ctx.Request.Body.CopyToAsync(body);
            try
            {
                var receipt = await backend.HandleWebhookAsync(name => ctx.Request.Headers[name], body.ToArray());
                lock (receipts)
                {
                    receipts.Add(receipt);
                }

                ctx.Response.StatusCode = 204;
            }
            catch (ReplicateWebhookSignatureException)
            {
                ctx.Response.StatusCode = 400;
            }
        };

        var id = await backend.SubmitAsync(ReplicateModels.Video("ocean", model: ReplicateModels.Hailuo02), Ct);
        var clock = Stopwatch.StartNew();
        var results = await Task.WhenAll(backend.WaitAsync(id, Ct), backend.WaitAsync(id, Ct));
        clock.Stop();

        Assert.All(results, r => Assert.Equal(GenerationStatus.Succeeded, r.Status));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"waited {clock.Elapsed}");
        Assert.Equal(4, fake.RequestsOf("get").Count);
        var create = JsonNode.Parse(fake.RequestsOf("create")[0].Body!)!;
        Assert.StartsWith(new Uri(fake.Root, "hooks") + "?corr=", create["webhook"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("completed", create["webhook_events_filter"]![0]!.GetValue<string>());
        while (fake.WebhookDeliveries.Count < 2)
        {
            await Task.Delay(10, Ct);
        }

        Assert.All(fake.WebhookDeliveries, d => Assert.Equal(204, d.Status));
        lock (receipts)
        {
            Assert.Equal(2, receipts.Count);
            Assert.True(receipts[0].WokeWaiter);
            Assert.False(receipts[0].Delivery.IsDuplicate);
            Assert.True(receipts[1].Delivery.IsDuplicate);
            Assert.Equal(id, receipts[0].PredictionId);
        }
    }

    [Fact]
    public async Task A_forged_delivery_to_the_backend_is_rejected_and_wakes_nothing()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        await using var services = TestHost.Create(fake, o => o.WebhookSecret = FakeReplicateServer.WebhookSecret);
        var body = Encoding.UTF8.GetBytes("""{"id":"p1","status":"succeeded"}""");
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string?>
        {
            ["webhook-id"] = "msg_1",
            ["webhook-timestamp"] = now,
            ["webhook-signature"] = ReplicateWebhookVerifier.Sign("whsec_" + Convert.ToBase64String(new byte[32]), "msg_1", long.Parse(now, System.Globalization.CultureInfo.InvariantCulture), body),
        };

        await Assert.ThrowsAsync<ReplicateWebhookSignatureException>(() => services.Backend().HandleWebhookAsync(h => headers.GetValueOrDefault(h), body, Ct));
    }
}
