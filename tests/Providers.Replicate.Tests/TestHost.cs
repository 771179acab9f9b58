using Checkpointing.Providers.Replicate.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Checkpointing.Providers.Replicate.Tests;

/// <summary>Builds a service provider with the Replicate backend pointed at a fake server, with fast timings.</summary>
internal static class TestHost
{
    public static ServiceProvider Create(
        FakeReplicateServer fake,
        Action<ReplicateOptions>? configure = null,
        ListLoggerProvider? logs = null,
        Action<CheckpointingBuilder>? more = null,
        Action<IServiceCollection>? services = null)
    {
        var collection = new ServiceCollection();
        collection.AddLogging(b =>
        {
            b.SetMinimumLevel(LogLevel.Trace);
            if (logs is not null)
            {
                b.AddProvider(logs);
            }
        });
        services?.Invoke(collection);
        collection.AddCheckpointing(b =>
        {
            b.UseReplicate(o =>
            {
                o.ApiToken = FakeReplicateServer.Token;
                o.BaseUrl = fake.BaseUrl;
                o.PollInterval = TimeSpan.FromMilliseconds(20);
                o.MaxPollInterval = TimeSpan.FromMilliseconds(100);
                o.RetryBaseDelay = TimeSpan.FromMilliseconds(20);
                o.RequestTimeout = TimeSpan.FromSeconds(10);
                o.SyncModels.Clear();
                configure?.Invoke(o);
            });
            more?.Invoke(b);
        });
        return collection.BuildServiceProvider(validateScopes: true);
    }

    public static ReplicateBackend Backend(this IServiceProvider services) => services.GetRequiredService<ReplicateBackend>();

    /// <summary>Reads a file output fully.</summary>
    public static async Task<byte[]> ReadAllAsync(this FileOutput file)
    {
        await using var stream = await file.OpenReadAsync(TestContext.Current.CancellationToken);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, TestContext.Current.CancellationToken);
        return copy.ToArray();
    }

    public static double Seconds(long from, long to) => TimeProvider.System.GetElapsedTime(from, to).TotalSeconds;
}
