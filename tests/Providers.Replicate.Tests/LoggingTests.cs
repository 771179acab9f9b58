using System.Diagnostics;
using System.Diagnostics.Metrics;
using Checkpointing.Providers.Replicate.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Checkpointing.Providers.Replicate.Tests;

public sealed class LoggingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_token_never_appears_in_any_log_at_any_level()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.FluxDev] = new FakeModel { Files = 2 };
        fake.Models[ReplicateModels.Hailuo02] = new FakeModel { FailWith = "boom" };
        var logs = new ListLoggerProvider();
        await using var services = TestHost.Create(fake, o => o.InlineFileLimit = 10, logs);
        var backend = services.Backend();

        fake.Inject("create", FakeFault.Problem(429, "Throttled, resets in ~0s"));
        var id = await backend.SubmitAsync(ReplicateModels.Image("x", model: ReplicateModels.FluxDev), Ct);
        fake.Inject("get", FakeFault.Problem(503, "unavailable"));
        var result = await backend.WaitAsync(id, Ct);
        foreach (var file in result.Outputs.OfType<FileOutput>())
        {
            await file.ReadAllAsync();
        }

        await backend.PrepareFileInputAsync(new MemoryStream(new byte[100]), "image/png", Ct);
        await backend.WaitAsync(await backend.SubmitAsync(ReplicateModels.Video("y", model: ReplicateModels.Hailuo02), Ct), Ct);
        fake.Inject("create", FakeFault.Problem(401, "You did not pass a valid authentication token"));
        await Assert.ThrowsAsync<ReplicateUnauthenticatedException>(() => backend.SubmitAsync(ReplicateModels.Image("z", model: ReplicateModels.FluxDev), Ct));
        fake.Inject("create", new FakeFault { AfterCreate = true, Abort = true });
        await backend.SubmitAsync(ReplicateModels.Image("lost", model: ReplicateModels.FluxDev), Ct);

        var entries = logs.Entries;
        Assert.Contains(entries, e => e.Category.StartsWith("System.Net.Http.HttpClient.Checkpointing.Providers.Replicate", StringComparison.Ordinal) && e.Level == Microsoft.Extensions.Logging.LogLevel.Trace);
        Assert.Contains(entries, e => e.EventId.Id == 4 && e.Category.Contains("ReplicateBackend", StringComparison.Ordinal));
        Assert.Contains(entries, e => e.EventId.Id == 7 && e.Category.Contains("ReplicateBackend", StringComparison.Ordinal));
        Assert.Contains(entries, e => e.EventId.Id == 3 && e.Message.Contains("boom", StringComparison.Ordinal));
        Assert.True(entries.Count > 30);
        Assert.All(entries, e => Assert.DoesNotContain(FakeReplicateServer.Token, e.AllText, StringComparison.Ordinal));
        Assert.All(entries, e => Assert.DoesNotContain(FakeReplicateServer.Token[3..], e.AllText, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Activities_and_metrics_are_published_under_the_package_name()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.FluxDev] = new FakeModel();
        var activities = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == ReplicateTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                lock (activities)
                {
                    activities.Add(a);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        var measurements = new List<(string Name, double Value)>();
        using var meters = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == ReplicateTelemetry.Name)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        meters.SetMeasurementEventCallback<long>((i, v, _, _) => { lock (measurements) { measurements.Add((i.Name, v)); } });
        meters.SetMeasurementEventCallback<double>((i, v, _, _) => { lock (measurements) { measurements.Add((i.Name, v)); } });
        meters.Start();
        await using var services = TestHost.Create(fake);

        var id = await services.Backend().SubmitAsync(ReplicateModels.Image("x", model: ReplicateModels.FluxDev), Ct);
        await services.Backend().WaitAsync(id, Ct);

        lock (activities)
        {
            Assert.Contains(activities, a => a.OperationName == "replicate.create" && (string?)a.GetTagItem("replicate.prediction.id") == id);
            Assert.Contains(activities, a => a.OperationName == "replicate.wait" && (string?)a.GetTagItem("replicate.status") == "succeeded");
        }

        lock (measurements)
        {
            Assert.Contains(measurements, m => m.Name == "replicate.predictions.created");
            Assert.Contains(measurements, m => m.Name == "replicate.predictions.completed");
            Assert.Contains(measurements, m => m.Name == "replicate.cost" && Math.Abs(m.Value - 0.025) < 1e-9);
        }
    }

    [Fact]
    public async Task Logging_added_after_UseReplicate_still_gets_the_backend_logs()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.FluxDev] = new FakeModel { Files = 1 };
        var logs = new ListLoggerProvider();
        var collection = new Microsoft.Extensions.DependencyInjection.ServiceCollection();
        collection.AddCheckpointing(b => b.UseReplicate(o =>
        {
            o.ApiToken = FakeReplicateServer.Token;
            o.BaseUrl = fake.BaseUrl;
            o.PollInterval = TimeSpan.FromMilliseconds(20);
            o.SyncModels.Clear();
        }));
        collection.AddLogging(b => b.SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Debug).AddProvider(logs));
        await using var services = collection.BuildServiceProvider(validateScopes: true);

        await services.Backend().WaitAsync(await services.Backend().SubmitAsync(ReplicateModels.Image("x", model: ReplicateModels.FluxDev), Ct), Ct);

        Assert.Contains(logs.Entries, e => e.Category.Contains("ReplicateBackend", StringComparison.Ordinal));
    }
}
