using System.Collections.Concurrent;
using System.Diagnostics;
using Checkpointing.Providers.Replicate.Testing;

namespace Checkpointing.Providers.Replicate.Tests;

/// <summary>
/// The HTTP-level spans (create, wait, cancel a prediction) carry the GenAI provider, model and prediction id, and the
/// wait span the cost; against the in-process fake Replicate server.
/// </summary>
public sealed class TelemetryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Create_and_wait_spans_carry_the_provider_the_model_the_prediction_id_and_the_cost()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.FluxDev] = new FakeModel();
        using var spans = new SpanRecorder();
        await using var services = TestHost.Create(fake);
        var backend = services.Backend();

        var id = await backend.SubmitAsync(ReplicateModels.Image("x", model: ReplicateModels.FluxDev), Ct);
        await backend.WaitAsync(id, Ct);

        var create = spans.Single("replicate.create", id);
        Assert.Equal(ActivityKind.Client, create.Kind);
        Assert.Equal("replicate", create.GetTagItem("gen_ai.provider.name"));
        Assert.Equal(ReplicateModels.FluxDev, create.GetTagItem("gen_ai.request.model"));
        Assert.Equal(ActivityStatusCode.Unset, create.Status);

        var wait = spans.Single("replicate.wait", id);
        Assert.Equal(ActivityKind.Client, wait.Kind);
        Assert.Equal("replicate", wait.GetTagItem("gen_ai.provider.name"));
        Assert.Equal(ReplicateModels.FluxDev, wait.GetTagItem("gen_ai.request.model"));
        Assert.Equal(ReplicateModels.FluxDev, wait.GetTagItem("gen_ai.response.model"));
        Assert.Equal(0.025, wait.GetTagItem("gen_ai.usage.cost.amount"));
        Assert.Equal("USD", wait.GetTagItem("gen_ai.usage.cost.currency"));
        Assert.Equal("configured_price", wait.GetTagItem("gen_ai.usage.cost.source"));
        Assert.Null(wait.GetTagItem("error.type"));
    }

    [Fact]
    public async Task A_wait_in_another_process_learns_the_model_from_the_prediction_and_says_when_no_price_is_configured()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models["acme/unpriced"] = new FakeModel();
        using var spans = new SpanRecorder();
        await using var creator = TestHost.Create(fake);
        var id = await creator.Backend().SubmitAsync(ReplicateModels.Image("x", model: "acme/unpriced"), Ct);
        await using var restarted = TestHost.Create(fake);

        await restarted.Backend().WaitAsync(id, Ct);

        var wait = spans.Single("replicate.wait", id);
        Assert.Equal("acme/unpriced", wait.GetTagItem("gen_ai.request.model"));
        Assert.Equal(0.0, wait.GetTagItem("gen_ai.usage.cost.amount"));
        Assert.Equal("unpriced", wait.GetTagItem("gen_ai.usage.cost.source"));
    }

    [Fact]
    public async Task A_failed_prediction_marks_the_wait_span_as_an_error_with_its_status()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.Hailuo02] = new FakeModel { FailWith = "boom" };
        using var spans = new SpanRecorder();
        await using var services = TestHost.Create(fake);
        var backend = services.Backend();

        var id = await backend.SubmitAsync(ReplicateModels.Video("x", model: ReplicateModels.Hailuo02), Ct);
        await backend.WaitAsync(id, Ct);

        var wait = spans.Single("replicate.wait", id);
        Assert.Equal(ActivityStatusCode.Error, wait.Status);
        Assert.Equal("failed", wait.GetTagItem("error.type"));
    }

    [Fact]
    public async Task A_refused_create_marks_its_span_with_the_exception_type()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        var model = "acme/refused-" + Guid.NewGuid().ToString("N");
        fake.Models[model] = new FakeModel();
        using var spans = new SpanRecorder();
        await using var services = TestHost.Create(fake);
        fake.Inject("create", FakeFault.Problem(401, "You did not pass a valid authentication token"));

        await Assert.ThrowsAsync<ReplicateUnauthenticatedException>(() => services.Backend().SubmitAsync(ReplicateModels.Image("refused", model: model), Ct));

        var create = Assert.Single(spans.Named("replicate.create"), s => Equals(s.GetTagItem("gen_ai.request.model"), model));
        Assert.Equal(ActivityStatusCode.Error, create.Status);
        Assert.Equal(typeof(ReplicateUnauthenticatedException).FullName, create.GetTagItem("error.type"));
        Assert.Equal("replicate", create.GetTagItem("gen_ai.provider.name"));
    }

    [Fact]
    public async Task Cancelling_a_prediction_is_a_span_with_the_provider_model_and_prediction_id()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.Hailuo02] = new FakeModel { Processing = TimeSpan.FromSeconds(30) };
        using var spans = new SpanRecorder();
        await using var services = TestHost.Create(fake);
        var backend = services.Backend();
        var id = await backend.SubmitAsync(ReplicateModels.Video("x", model: ReplicateModels.Hailuo02), Ct);

        await backend.CancelAsync(id, Ct);

        var cancel = spans.Single("replicate.cancel", id);
        Assert.Equal(ActivityKind.Client, cancel.Kind);
        Assert.Equal("replicate", cancel.GetTagItem("gen_ai.provider.name"));
        Assert.Equal(ReplicateModels.Hailuo02, cancel.GetTagItem("gen_ai.request.model"));
    }

    [Fact]
    public async Task Cancelling_a_wait_records_a_cancel_span_inside_the_failed_wait_span()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.Hailuo02] = new FakeModel { Processing = TimeSpan.FromSeconds(30) };
        using var spans = new SpanRecorder();
        await using var services = TestHost.Create(fake);
        var backend = services.Backend();
        var id = await backend.SubmitAsync(ReplicateModels.Video("x", model: ReplicateModels.Hailuo02), Ct);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        stop.CancelAfter(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => backend.WaitAsync(id, stop.Token));

        var wait = spans.Single("replicate.wait", id);
        var cancel = spans.Single("replicate.cancel", id);
        Assert.Equal(wait.SpanId, cancel.ParentSpanId);
        Assert.Equal(ActivityStatusCode.Error, wait.Status);
        Assert.EndsWith("CanceledException", (string?)wait.GetTagItem("error.type"), StringComparison.Ordinal);
    }

    /// <summary>Records the package's stopped spans while it lives.</summary>
    private sealed class SpanRecorder : IDisposable
    {
        private readonly ConcurrentQueue<Activity> _stopped = new();
        private readonly ActivityListener _listener;

        public SpanRecorder()
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = s => s.Name == ReplicateTelemetry.Name,
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = _stopped.Enqueue,
            };
            ActivitySource.AddActivityListener(_listener);
        }

        public IReadOnlyList<Activity> Named(string name) => _stopped.Where(a => a.OperationName == name).ToList();

        public Activity Single(string name, string predictionId) =>
            Assert.Single(Named(name), a => Equals(a.GetTagItem("gen_ai.response.id"), predictionId));

        public void Dispose() => _listener.Dispose();
    }
}
