using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Checkpointing;

/// <summary>
/// Configures the Checkpointing SDK: pipelines, the metadata store, the blob store and generation backends.
/// Provider packages add <c>UseXxx</c> extension methods to this builder.
/// </summary>
public sealed class CheckpointingBuilder
{
    internal CheckpointingBuilder(IServiceCollection services) => Services = services;

    /// <summary>The service collection being configured.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Registers a pipeline.</summary>
    /// <param name="name">The pipeline's name, used by <see cref="StartRunRequest.Pipeline"/>.</param>
    /// <param name="configure">Adds the phases in order.</param>
    /// <returns>This builder.</returns>
    public CheckpointingBuilder AddPipeline(string name, Action<PipelineBuilder> configure)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configure);
        var pipeline = new PipelineBuilder(name);
        configure(pipeline);
        Services.AddSingleton(pipeline);
        return this;
    }

    /// <summary>Uses a metadata store, replacing the default in-memory one.</summary>
    /// <typeparam name="TStore">The store type, resolved from DI as a singleton.</typeparam>
    /// <returns>This builder.</returns>
    public CheckpointingBuilder UseStore<TStore>()
        where TStore : class, ICheckpointStore
    {
        Services.RemoveAll<ICheckpointStore>();
        Services.AddSingleton<ICheckpointStore, TStore>();
        return this;
    }

    /// <summary>Uses a metadata store built by a factory, replacing the default in-memory one.</summary>
    /// <param name="factory">Creates the store.</param>
    /// <returns>This builder.</returns>
    public CheckpointingBuilder UseStore(Func<IServiceProvider, ICheckpointStore> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        Services.RemoveAll<ICheckpointStore>();
        Services.AddSingleton(factory);
        return this;
    }

    /// <summary>Uses a blob store, replacing the default file-system one.</summary>
    /// <typeparam name="TStore">The store type, resolved from DI as a singleton.</typeparam>
    /// <returns>This builder.</returns>
    public CheckpointingBuilder UseBlobStore<TStore>()
        where TStore : class, IBlobStore
    {
        Services.RemoveAll<IBlobStore>();
        Services.AddSingleton<IBlobStore, TStore>();
        return this;
    }

    /// <summary>Uses a blob store built by a factory, replacing the default file-system one.</summary>
    /// <param name="factory">Creates the store.</param>
    /// <returns>This builder.</returns>
    public CheckpointingBuilder UseBlobStore(Func<IServiceProvider, IBlobStore> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        Services.RemoveAll<IBlobStore>();
        Services.AddSingleton(factory);
        return this;
    }

    /// <summary>Stores blobs as files under a folder.</summary>
    /// <param name="configure">Sets <see cref="FileSystemBlobStoreOptions.RootPath"/>.</param>
    /// <returns>This builder.</returns>
    public CheckpointingBuilder UseFileSystemBlobStore(Action<FileSystemBlobStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.Configure(configure);
        return UseBlobStore<FileSystemBlobStore>();
    }

    /// <summary>Keeps metadata in memory (the default; lost when the process ends).</summary>
    /// <returns>This builder.</returns>
    public CheckpointingBuilder UseInMemoryStore() => UseStore<InMemoryCheckpointStore>();

    /// <summary>
    /// Registers a generation backend. Phases receive every registered backend as
    /// <c>IEnumerable&lt;IGenerationBackend&gt;</c>, or one by its name as a keyed service.
    /// </summary>
    /// <typeparam name="TBackend">The backend type, a singleton.</typeparam>
    /// <param name="name">The key it is registered under; the same as its <see cref="IGenerationBackend.Name"/>.</param>
    /// <returns>This builder.</returns>
    public CheckpointingBuilder AddBackend<TBackend>(string name)
        where TBackend : class, IGenerationBackend
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Services.TryAddSingleton<TBackend>();
        Services.AddKeyedSingleton<IGenerationBackend>(name, (sp, _) => sp.GetRequiredService<TBackend>());
        Services.AddSingleton<IGenerationBackend>(sp => sp.GetRequiredService<TBackend>());
        return this;
    }
}

/// <summary>Lists the phases of one pipeline, in order.</summary>
public sealed class PipelineBuilder
{
    private readonly List<Func<IServiceProvider, Phase>> _phases = [];

    internal PipelineBuilder(string name) => Name = name;

    /// <summary>The pipeline's name.</summary>
    public string Name { get; }

    /// <summary>Adds the next phase, created from DI (its constructor may take any registered service).</summary>
    /// <typeparam name="TPhase">The phase type.</typeparam>
    /// <returns>This builder.</returns>
    public PipelineBuilder AddPhase<TPhase>()
        where TPhase : Phase
    {
        _phases.Add(sp => ActivatorUtilities.CreateInstance<TPhase>(sp));
        return this;
    }

    /// <summary>Adds the next phase, created by a factory.</summary>
    /// <param name="factory">Creates the phase.</param>
    /// <returns>This builder.</returns>
    public PipelineBuilder AddPhase(Func<IServiceProvider, Phase> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        _phases.Add(factory);
        return this;
    }

    /// <summary>Adds the next phase instance.</summary>
    /// <param name="phase">The phase.</param>
    /// <returns>This builder.</returns>
    public PipelineBuilder AddPhase(Phase phase)
    {
        ArgumentNullException.ThrowIfNull(phase);
        _phases.Add(_ => phase);
        return this;
    }

    internal PipelineDefinition Build(IServiceProvider services) =>
        _phases.Count == 0
            ? throw new InvalidOperationException($"Pipeline '{Name}' has no phases; add them with AddPhase.")
            : new PipelineDefinition(Name, _phases.Select(f => f(services)).ToList());
}
