using Checkpointing.Providers.Replicate.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Checkpointing.Providers.Replicate.Tests;

public sealed class OptionsTests
{
    [Fact]
    public void Defaults_match_the_documented_values()
    {
        var options = new ReplicateOptions();

        Assert.Equal(new Uri("https://api.replicate.com/v1/"), options.BaseUrl);
        Assert.Equal(30, options.SyncWaitSeconds);
        Assert.Equal(TimeSpan.FromSeconds(1), options.PollInterval);
        Assert.Equal(TimeSpan.FromSeconds(5), options.MaxPollInterval);
        Assert.Equal(TimeSpan.FromMinutes(35), options.WaitTimeout);
        Assert.Equal(TimeSpan.FromMinutes(30), options.DefaultDeadline);
        Assert.Equal(256 * 1024, options.InlineFileLimit);
        Assert.Equal(TimeSpan.FromMinutes(5), options.WebhookTolerance);
        Assert.Equal(0.025m, options.Prices[ReplicateModels.FluxDev].PerImage);
        Assert.Contains(ReplicateModels.FluxSchnell, options.SyncModels);
        Assert.DoesNotContain(ReplicateModels.Veo3, options.SyncModels);
    }

    [Fact]
    public async Task Invalid_options_fail_at_start_up_with_every_error_naming_setting_value_and_fix()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        await using var services = TestHost.Create(fake, o =>
        {
            o.ApiToken = " ";
            o.SyncWaitSeconds = 61;
            o.PollInterval = TimeSpan.FromSeconds(2);
            o.MaxPollInterval = TimeSpan.FromSeconds(1);
            o.DefaultDeadline = TimeSpan.FromSeconds(3);
            o.DefaultVideoModel = "not a model";
            o.WebhookUrl = new Uri("https://example.com/hooks");
            o.Prices["acme/x"] = new ReplicatePrice { PerImage = -1 };
        });

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<ReplicateBackend>());

        Assert.Contains(error.Failures, f => f.StartsWith("ReplicateOptions.ApiToken is not set; set it in UseReplicate or the REPLICATE_API_TOKEN", StringComparison.Ordinal));
        Assert.Contains("ReplicateOptions.SyncWaitSeconds is 61; set it between 1 and 60, or 0 to turn sync mode off.", error.Failures);
        Assert.Contains("ReplicateOptions.MaxPollInterval is 00:00:01, less than PollInterval (00:00:02); set it to PollInterval or more.", error.Failures);
        Assert.Contains(error.Failures, f => f.StartsWith("ReplicateOptions.DefaultDeadline is 00:00:03; Replicate's minimum Cancel-After is 5 seconds", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("ReplicateOptions.DefaultVideoModel is 'not a model'", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("ReplicateOptions.WebhookSecret is not set but WebhookUrl is", StringComparison.Ordinal));
        Assert.Contains("ReplicateOptions.Prices['acme/x'] has a negative price; set every price to zero or more.", error.Failures);
        Assert.Equal(7, error.Failures.Count());
    }

    [Fact]
    public async Task ToString_never_shows_the_token_or_the_secret()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        var options = new ReplicateOptions { ApiToken = FakeReplicateServer.Token, WebhookSecret = FakeReplicateServer.WebhookSecret };

        var text = options.ToString();

        Assert.DoesNotContain(FakeReplicateServer.Token, text, StringComparison.Ordinal);
        Assert.DoesNotContain("ZmFrZS1zZXJ2ZXI", text, StringComparison.Ordinal);
        Assert.Contains("ApiToken = (set)", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UseReplicate_registers_one_backend_named_replicate_keyed_and_listed()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        await using var services = TestHost.Create(fake, more: b => b.UseReplicate(o => o.SyncWaitSeconds = 7));

        var backend = services.GetRequiredService<ReplicateBackend>();

        Assert.Equal("replicate", backend.Name);
        Assert.Same(backend, services.GetRequiredKeyedService<IGenerationBackend>("replicate"));
        Assert.Same(backend, Assert.Single(services.GetServices<IGenerationBackend>()));
        Assert.Equal(7, services.GetRequiredService<IOptions<ReplicateOptions>>().Value.SyncWaitSeconds);
    }

    [Fact]
    public async Task Options_validation_runs_at_host_start()
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddCheckpointing(b => b.UseReplicate(o => o.ApiToken = null));
        using var host = builder.Build();
        var previous = Environment.GetEnvironmentVariable(ReplicateOptions.ApiTokenEnvironmentVariable);
        Environment.SetEnvironmentVariable(ReplicateOptions.ApiTokenEnvironmentVariable, null);
        try
        {
            var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));
            Assert.Contains(error.Failures, f => f.Contains("ApiToken", StringComparison.Ordinal));
        }
        finally
        {
            Environment.SetEnvironmentVariable(ReplicateOptions.ApiTokenEnvironmentVariable, previous);
        }
    }
}
