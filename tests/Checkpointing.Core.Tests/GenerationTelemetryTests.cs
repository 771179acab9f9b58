using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Checkpointing.Tests.Support;

namespace Checkpointing.Tests;

/// <summary>
/// Generation calls are traced and measured after the OpenTelemetry GenAI semantic conventions, on a real pipeline
/// run (in-memory store, a fake backend). Each test names its backend uniquely, so the listeners see only its calls.
/// </summary>
public sealed class GenerationTelemetryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_generation_call_is_a_client_span_named_after_its_operation_and_model_with_the_gen_ai_attributes()
    {
        using var recorder = new TelemetryRecorder();
        var backend = new NamedBackend();
        await using var host = Host(backend, out var pipeline);

        var result = await host.Runner.StartAsync(new StartRunRequest(pipeline, "user-1", JsonSerializer.SerializeToElement(new { })) { AutoContinue = true }, Ct);

        Assert.Equal(RunStatus.Completed, result.Status);
        var spans = recorder.SpansOf(backend.Name);
        Assert.Equal(["generate_content llm-writer", "generate_content llm-critic"], spans.Select(s => s.DisplayName));
        var checkpoints = await host.Queries.ListCheckpointsAsync(result.Run.Id, cancellationToken: Ct);
        var jobIds = new List<string?>();
        foreach (var checkpoint in checkpoints.OrderBy(c => c.Phase))
        {
            var detail = await host.Queries.GetCheckpointAsync(checkpoint.Id, cancellationToken: Ct);
            jobIds.Add(detail.Artifacts.Single().Artifact.Metadata.ExternalJobId);
        }

        Assert.Equal(jobIds, spans.Select(s => (string?)s.GetTagItem("gen_ai.response.id")));
        Assert.All(spans, span =>
        {
            Assert.Equal(ActivityKind.Client, span.Kind);
            Assert.Equal(CheckpointingTelemetry.Name, span.Source.Name);
            Assert.Equal("generate_content", span.GetTagItem("gen_ai.operation.name"));
            Assert.Equal(backend.Name, span.GetTagItem("gen_ai.provider.name"));
            Assert.Equal(0.025, span.GetTagItem("gen_ai.usage.cost.amount"));
            Assert.Equal("USD", span.GetTagItem("gen_ai.usage.cost.currency"));
            Assert.Null(span.GetTagItem("error.type"));
            Assert.Equal(ActivityStatusCode.Unset, span.Status);
            Assert.StartsWith("phase ", span.Parent?.DisplayName, StringComparison.Ordinal);
        });
        Assert.Equal(["llm-writer", "llm-critic"], spans.Select(s => (string?)s.GetTagItem("gen_ai.request.model")));
    }

    [Fact]
    public async Task Each_call_records_its_duration_in_seconds_and_its_cost_with_the_same_low_cardinality_attributes()
    {
        using var recorder = new TelemetryRecorder();
        var backend = new NamedBackend { Currency = "EUR" };
        backend.Inner.BeforeComplete = (_, ct) => Task.Delay(30, ct);
        await using var host = Host(backend, out var pipeline);

        await host.Runner.StartAsync(new StartRunRequest(pipeline, "user-1", JsonSerializer.SerializeToElement(new { })) { AutoContinue = true }, Ct);

        var durations = recorder.MeasurementsOf("gen_ai.client.operation.duration", backend.Name);
        Assert.Equal(2, durations.Count);
        Assert.All(durations, d =>
        {
            Assert.Equal("s", d.Unit);
            Assert.InRange(d.Value, 0.025, 30);
            Assert.Equal(
                ["gen_ai.operation.name=generate_content", $"gen_ai.provider.name={backend.Name}", "gen_ai.request.model=" + d.Tags["gen_ai.request.model"]],
                d.Tags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => $"{t.Key}={t.Value}"));
        });
        Assert.Equal(["llm-writer", "llm-critic"], durations.Select(d => d.Tags["gen_ai.request.model"]));

        var costs = recorder.MeasurementsOf("checkpointing.generation.cost", backend.Name);
        Assert.Equal([0.025, 0.025], costs.Select(c => c.Value));
        Assert.All(costs, c =>
        {
            Assert.Equal("EUR", c.Tags["gen_ai.usage.cost.currency"]);
            Assert.Equal("generate_content", c.Tags["gen_ai.operation.name"]);
        });
        Assert.All(recorder.SpansOf(backend.Name), s => Assert.Equal("EUR", s.GetTagItem("gen_ai.usage.cost.currency")));
    }

    [Fact]
    public async Task A_job_that_fails_marks_its_span_as_an_error_with_the_job_status_as_error_type_and_still_counts_its_cost()
    {
        using var recorder = new TelemetryRecorder();
        var backend = new NamedBackend { FailedCost = 0.5m };
        backend.Inner.FailWhen = r => r.Model == "llm-writer" ? "the model refused" : null;
        await using var host = Host(backend, out var pipeline);

        var result = await host.Runner.StartAsync(new StartRunRequest(pipeline, "user-1", JsonSerializer.SerializeToElement(new { })), Ct);

        Assert.Equal(RunStatus.Failed, result.Status);
        var span = Assert.Single(recorder.SpansOf(backend.Name));
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.Equal("failed", span.GetTagItem("error.type"));
        Assert.Equal("job-1", span.GetTagItem("gen_ai.response.id"));
        Assert.Equal(0.5, span.GetTagItem("gen_ai.usage.cost.amount"));
        var duration = Assert.Single(recorder.MeasurementsOf("gen_ai.client.operation.duration", backend.Name));
        Assert.Equal("failed", duration.Tags["error.type"]);
        Assert.Equal([0.5], recorder.MeasurementsOf("checkpointing.generation.cost", backend.Name).Select(c => c.Value));
    }

    [Fact]
    public async Task A_backend_that_throws_marks_the_span_with_the_exception_type()
    {
        using var recorder = new TelemetryRecorder();
        var backend = new NamedBackend { SubmitFails = true };
        await using var host = Host(backend, out var pipeline);

        var result = await host.Runner.StartAsync(new StartRunRequest(pipeline, "user-1", JsonSerializer.SerializeToElement(new { })), Ct);

        Assert.Equal(RunStatus.Failed, result.Status);
        var span = Assert.Single(recorder.SpansOf(backend.Name));
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.Equal(typeof(GenerationException).FullName, span.GetTagItem("error.type"));
        Assert.Null(span.GetTagItem("gen_ai.response.id"));
        var duration = Assert.Single(recorder.MeasurementsOf("gen_ai.client.operation.duration", backend.Name));
        Assert.Equal(typeof(GenerationException).FullName, duration.Tags["error.type"]);
        Assert.Empty(recorder.MeasurementsOf("checkpointing.generation.cost", backend.Name));
    }

    private static TestHost Host(NamedBackend backend, out string pipeline)
    {
        var name = pipeline = "telemetry-" + Guid.NewGuid().ToString("N");
        return new TestHost(b => b.AddPipeline(name, p => p
            .AddPhase(new TextPhase("write", backend, "llm-writer"))
            .AddPhase(new TextPhase("critique", backend, "llm-critic"))));
    }

    /// <summary>A phase that makes one text call and stores its answer.</summary>
    private sealed class TextPhase(string name, IGenerationBackend backend, string model) : Phase(name)
    {
        public override IReadOnlyList<ArtifactSpec> Artifacts { get; } = [new ArtifactSpec(name)];

        public override async Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken)
        {
            var outcome = await context.GenerateAsync(backend, new GenerationRequest(model, new JsonObject { ["text"] = $"\"{Name}\"" }), cancellationToken);
            var json = JsonDocument.Parse(outcome.Text).RootElement;
            return new PhaseResult([new PhaseArtifact(Name, "text", ArtifactContent.FromJson(json), new ArtifactMetadata(Model: outcome.Model, ExternalJobId: outcome.JobId))]);
        }
    }

    /// <summary>The fake backend under a name of its own, optionally reporting a currency or failing to submit.</summary>
    private sealed class NamedBackend : IGenerationBackend
    {
        public FakeBackend Inner { get; } = new();

        public string Name { get; } = "fake-" + Guid.NewGuid().ToString("N")[..12];

        public string? Currency { get; init; }

        public decimal? FailedCost { get; init; }

        public bool SubmitFails { get; init; }

        public Task<string> SubmitAsync(GenerationRequest request, CancellationToken cancellationToken = default) =>
            SubmitFails ? throw new GenerationException("The backend refused the request.", null) : Inner.SubmitAsync(request, cancellationToken);

        public async Task<GenerationResult> WaitAsync(string jobId, CancellationToken cancellationToken = default)
        {
            var result = await Inner.WaitAsync(jobId, cancellationToken);
            if (result.Status != GenerationStatus.Succeeded && FailedCost is { } cost)
            {
                result = result with { Cost = cost };
            }

            return result with { CostCurrency = Currency };
        }

        public Task CancelAsync(string jobId, CancellationToken cancellationToken = default) => Inner.CancelAsync(jobId, cancellationToken);
    }

    public sealed record Measurement(string Unit, double Value, IReadOnlyDictionary<string, object?> Tags);

    /// <summary>Records the Core source's spans and the Core meter's measurements while it lives.</summary>
    private sealed class TelemetryRecorder : IDisposable
    {
        private readonly ActivityListener _spans;
        private readonly MeterListener _meters;
        private readonly ConcurrentQueue<Activity> _stopped = new();
        private readonly ConcurrentQueue<(string Name, Measurement Measurement)> _measurements = new();

        public TelemetryRecorder()
        {
            _spans = new ActivityListener
            {
                ShouldListenTo = s => s.Name == CheckpointingTelemetry.Name,
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = _stopped.Enqueue,
            };
            ActivitySource.AddActivityListener(_spans);
            _meters = new MeterListener
            {
                InstrumentPublished = (instrument, l) =>
                {
                    if (instrument.Meter.Name == CheckpointingTelemetry.Name)
                    {
                        l.EnableMeasurementEvents(instrument);
                    }
                },
            };
            _meters.SetMeasurementEventCallback<double>((i, v, tags, _) =>
            {
                var map = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var tag in tags)
                {
                    map[tag.Key] = tag.Value;
                }

                _measurements.Enqueue((i.Name, new Measurement(i.Unit ?? "", v, map)));
            });
            _meters.Start();
        }

        public IReadOnlyList<Activity> SpansOf(string provider) =>
            _stopped.Where(a => Equals(a.GetTagItem("gen_ai.provider.name"), provider)).OrderBy(a => a.StartTimeUtc).ToList();

        public IReadOnlyList<Measurement> MeasurementsOf(string instrument, string provider) =>
            _measurements.Where(m => m.Name == instrument && Equals(m.Measurement.Tags.GetValueOrDefault("gen_ai.provider.name"), provider))
                .Select(m => m.Measurement).ToList();

        public void Dispose()
        {
            _spans.Dispose();
            _meters.Dispose();
        }
    }
}
