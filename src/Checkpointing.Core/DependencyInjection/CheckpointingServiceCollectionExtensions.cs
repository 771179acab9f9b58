using Checkpointing;
using Checkpointing.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Checkpointing SDK.</summary>
public static class CheckpointingServiceCollectionExtensions
{
    /// <summary>
    /// Registers the runner (<see cref="CheckpointRunner"/>), the editor (<see cref="CheckpointEditor"/>), the queries
    /// (<see cref="CheckpointQueries"/>), the <see cref="BlobGarbageCollector"/> and the defaults: an in-memory metadata
    /// store, a file-system blob store and an in-process event bus. Calling it again adds to the same configuration.
    /// No logger factory is registered: the SDK logs through the application's <c>ILoggerFactory</c> when there is one
    /// (whether <c>AddLogging</c> is called before or after this method), and logs nothing otherwise.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Adds pipelines, stores and backends.</param>
    /// <param name="configureOptions">Sets <see cref="CheckpointingOptions"/>; validated at start-up.</param>
    /// <returns>The builder, for provider packages' <c>UseXxx</c> methods.</returns>
    public static CheckpointingBuilder AddCheckpointing(
        this IServiceCollection services,
        Action<CheckpointingBuilder>? configure = null,
        Action<CheckpointingOptions>? configureOptions = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var builder = new CheckpointingBuilder(services);
        if (!services.Any(d => d.ServiceType == typeof(CheckpointingMarker)))
        {
            services.AddSingleton<CheckpointingMarker>();
            services.AddOptions<CheckpointingOptions>().ValidateOnStart();
            services.AddOptions<FileSystemBlobStoreOptions>().ValidateOnStart();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CheckpointingOptions>, CheckpointingOptionsValidator>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FileSystemBlobStoreOptions>, FileSystemBlobStoreOptionsValidator>());
            services.TryAddSingleton(TimeProvider.System);
            services.TryAddSingleton<ICheckpointStore, InMemoryCheckpointStore>();
            services.TryAddSingleton<IBlobStore, FileSystemBlobStore>();
            services.TryAddSingleton<ICheckpointEventBus, InMemoryEventBus>();
            services.TryAddSingleton<PipelineRegistry>();
            services.TryAddSingleton(sp => new SdkServices(
                sp.GetRequiredService<ICheckpointStore>(),
                sp.GetRequiredService<IBlobStore>(),
                sp.GetRequiredService<ICheckpointEventBus>(),
                sp.GetRequiredService<PipelineRegistry>(),
                sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<IOptions<CheckpointingOptions>>(),
                sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance,
                sp));
            services.TryAddSingleton(sp => new BlobGarbageCollector(
                sp.GetRequiredService<ICheckpointStore>(),
                sp.GetRequiredService<IBlobStore>(),
                sp.GetRequiredService<TimeProvider>(),
                sp.GetService<ILoggerFactory>()?.CreateLogger<BlobGarbageCollector>()));
            services.TryAddSingleton<RunExecutor>();
            services.TryAddSingleton(sp => new CheckpointRunner(sp.GetRequiredService<RunExecutor>()));
            services.TryAddSingleton(sp => new CheckpointEditor(sp.GetRequiredService<RunExecutor>()));
            services.TryAddSingleton(sp => new CheckpointQueries(sp.GetRequiredService<SdkServices>()));
        }

        if (configureOptions is not null)
        {
            services.Configure(configureOptions);
        }

        configure?.Invoke(builder);
        return builder;
    }

    /// <summary>
    /// Adds a <see cref="CheckpointWorker"/> hosted service that executes queued and interrupted runs of the pipelines
    /// registered with <see cref="AddCheckpointing"/> (call that too). Several hosts may each run a worker on one store.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the worker's options.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddCheckpointingWorker(this IServiceCollection services, Action<CheckpointWorkerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<CheckpointWorkerOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CheckpointWorkerOptions>, CheckpointWorkerOptionsValidator>());
        if (configure is not null)
        {
            services.Configure(configure);
        }

        if (!services.Any(d => d.ServiceType == typeof(CheckpointWorker)))
        {
            services.AddSingleton(sp => new CheckpointWorker(sp.GetRequiredService<RunExecutor>(), sp.GetRequiredService<IOptions<CheckpointWorkerOptions>>()));
            services.AddSingleton<Microsoft.Extensions.Hosting.IHostedService>(sp => sp.GetRequiredService<CheckpointWorker>());
        }

        return services;
    }

    private sealed class CheckpointingMarker;
}
