using Microsoft.Extensions.DependencyInjection;

namespace Checkpointing.Tests.Support;

/// <summary>The SDK wired through DI on the in-memory store, a temp-folder blob store and the fake backend.</summary>
public sealed class TestHost : IAsyncDisposable
{
    private readonly ServiceProvider _provider;

    public TestHost(Action<CheckpointingBuilder>? configure = null, ICheckpointStore? store = null, Action<IServiceCollection>? services = null)
    {
        BlobRoot = Path.Combine(Path.GetTempPath(), "checkpointing-tests", Guid.NewGuid().ToString("N"));
        var collection = new ServiceCollection();
        services?.Invoke(collection);
        collection.AddSingleton(Backend);
        collection.AddCheckpointing(b =>
        {
            b.AddVideoPipeline().UseFileSystemBlobStore(o => o.RootPath = BlobRoot);
            if (store is not null)
            {
                b.UseStore(_ => store);
            }

            configure?.Invoke(b);
        });
        _provider = collection.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    public FakeBackend Backend { get; } = new();

    public string BlobRoot { get; }

    public IServiceProvider Services => _provider;

    public CheckpointRunner Runner => _provider.GetRequiredService<CheckpointRunner>();

    public CheckpointEditor Editor => _provider.GetRequiredService<CheckpointEditor>();

    public CheckpointQueries Queries => _provider.GetRequiredService<CheckpointQueries>();

    public ICheckpointStore Store => _provider.GetRequiredService<ICheckpointStore>();

    public IBlobStore Blobs => _provider.GetRequiredService<IBlobStore>();

    public Task<RunResult> StartAsync(bool autoContinue = false, int beats = 4, decimal? budget = null) =>
        Runner.StartAsync(new StartRunRequest(VideoPipeline.Name, "user-1", VideoPipeline.Input(beats)) { AutoContinue = autoContinue, Budget = budget }, TestContext.Current.CancellationToken);

    public long BlobBytesOnDisk() =>
        Directory.Exists(BlobRoot) ? Directory.EnumerateFiles(BlobRoot, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length) : 0;

    public int BlobFilesOnDisk() =>
        Directory.Exists(BlobRoot) ? Directory.EnumerateFiles(BlobRoot, "*", SearchOption.AllDirectories).Count() : 0;

    public async ValueTask DisposeAsync()
    {
        await _provider.DisposeAsync();
        try
        {
            Directory.Delete(BlobRoot, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
