using Checkpointing.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Checkpointing.Tests;

public class LoggingTests
{
    [Fact]
    public async Task The_runner_and_editor_log_what_happened_with_fixed_event_ids()
    {
        await using var host = new TestHost(services: s => s.AddLogging(b => b.SetMinimumLevel(LogLevel.Debug).AddFakeLogging()));
        var collector = host.Services.GetFakeLogCollector();
        var ct = TestContext.Current.CancellationToken;

        var plan = (await host.StartAsync()).Checkpoint!;
        await host.Editor.PatchJsonAsync(plan.Id, "spec", "spec", """{"template":"v2"}""", cancellationToken: ct);
        await host.Runner.ContinueAsync(plan.Id, cancellationToken: ct);

        var logs = collector.GetSnapshot();
        Assert.Contains(logs, l => l.Id.Id == 1 && l.Message.Contains(plan.RunId.ToString(), StringComparison.Ordinal));
        Assert.Contains(logs, l => l.Id.Id == 3 && l.Message.Contains($"checkpoint {plan.Id} committed for phase 1 on branch main", StringComparison.Ordinal));
        Assert.Contains(logs, l => l.Id.Id == 6 && l.Message.Contains("branch main-1 forked from main", StringComparison.Ordinal));
        Assert.Contains(logs, l => l.Id.Id == 7 && l.Message.Contains("PatchJson edit of spec/spec, now version 2", StringComparison.Ordinal));
        Assert.Contains(logs, l => l.Id.Id == 8 && l.Category == "Checkpointing" && l.Message.Contains("submitted for model image-flux", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failed_phase_is_logged_as_an_error_with_its_exception()
    {
        await using var host = new TestHost(services: s => s.AddLogging(b => b.AddFakeLogging()));
        var collector = host.Services.GetFakeLogCollector();
        var plan = (await host.StartAsync()).Checkpoint!;
        host.Backend.FailWhen = _ => "safety filter";

        await host.Runner.ContinueAsync(plan.Id, cancellationToken: TestContext.Current.CancellationToken);

        var error = Assert.Single(collector.GetSnapshot(), l => l.Level == LogLevel.Error);
        Assert.Equal(4, error.Id.Id);
        Assert.IsType<GenerationException>(error.Exception);
        Assert.Contains("safety filter", error.Exception!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logging_added_after_AddCheckpointing_still_gets_the_sdk_logs()
    {
        var services = new ServiceCollection();
        services.AddSingleton(new FakeBackend());
        services.AddCheckpointing(b => b.AddVideoPipeline().UseFileSystemBlobStore(o => o.RootPath = Path.Combine(Path.GetTempPath(), "checkpointing-tests", Guid.NewGuid().ToString("N"))));
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Debug).AddFakeLogging());
        await using var provider = services.BuildServiceProvider();
        var collector = provider.GetFakeLogCollector();

        var started = await provider.GetRequiredService<CheckpointRunner>().StartAsync(
            new StartRunRequest(VideoPipeline.Name, "user-1", VideoPipeline.Input()), TestContext.Current.CancellationToken);

        Assert.Contains(collector.GetSnapshot(), l => l.Id.Id == 1 && l.Message.Contains(started.Run.Id.ToString(), StringComparison.Ordinal));
        Assert.Contains(collector.GetSnapshot(), l => l.Id.Id == 3 && l.Category == "Checkpointing");
    }

    [Fact]
    public async Task Without_logging_the_sdk_runs_and_registers_no_logger_factory_of_its_own()
    {
        var services = new ServiceCollection();
        services.AddSingleton(new FakeBackend());
        services.AddCheckpointing(b => b.AddVideoPipeline().UseFileSystemBlobStore(o => o.RootPath = Path.Combine(Path.GetTempPath(), "checkpointing-tests", Guid.NewGuid().ToString("N"))));
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });

        Assert.DoesNotContain(services, d => d.ServiceType == typeof(ILoggerFactory));
        var started = await provider.GetRequiredService<CheckpointRunner>().StartAsync(
            new StartRunRequest(VideoPipeline.Name, "user-1", VideoPipeline.Input()), TestContext.Current.CancellationToken);
        Assert.Equal(RunStatus.Paused, started.Status);
        Assert.NotNull(provider.GetService<BlobGarbageCollector>());
    }
}
