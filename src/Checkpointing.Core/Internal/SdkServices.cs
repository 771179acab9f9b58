using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Checkpointing.Internal;

/// <summary>The services the runner, editor and contexts share.</summary>
internal sealed class SdkServices(
    ICheckpointStore store,
    IBlobStore blobs,
    ICheckpointEventBus events,
    PipelineRegistry pipelines,
    TimeProvider time,
    IOptions<CheckpointingOptions> options,
    ILoggerFactory loggerFactory,
    IServiceProvider services)
{
    public ICheckpointStore Store { get; } = store;
    public IBlobStore Blobs { get; } = blobs;
    public ICheckpointEventBus Events { get; } = events;
    public PipelineRegistry Pipelines { get; } = pipelines;
    public TimeProvider Time { get; } = time;
    public CheckpointingOptions Options { get; } = options.Value;
    public IServiceProvider Services { get; } = services;
    public ILogger Log { get; } = loggerFactory.CreateLogger("Checkpointing");
    public ILogger PhaseLogger { get; } = loggerFactory.CreateLogger("Checkpointing.Phases");

    public DateTimeOffset Now => Time.GetUtcNow();

    /// <summary>Completed (and replaced) whenever this process logs an event, to wake local watchers at once.</summary>
    private TaskCompletionSource _logged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task NextLocalEvent => Volatile.Read(ref _logged).Task;

    /// <summary>Logs the event in the store (so that other processes see it, numbered) and publishes it in process.</summary>
    public async Task PublishAsync(CheckpointEvent e)
    {
        try
        {
            var sequence = await Store.AppendEventAsync(e.RunId, e.EventType, EventLog.Serialize(e), e.At, CancellationToken.None).ConfigureAwait(false);
            e = e with { Sequence = sequence };
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.EventPublishFailed(ex, e.GetType().Name, e.RunId);
        }

        Interlocked.Exchange(ref _logged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        try
        {
            await Events.PublishAsync(e, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.EventPublishFailed(ex, e.GetType().Name, e.RunId);
        }
    }

    public async Task<Run> GetRunAsync(Guid runId, CancellationToken ct) =>
        await Store.GetRunAsync(runId, ct).ConfigureAwait(false) ?? throw new RunNotFoundException(runId);

    public async Task<Checkpoint> GetCheckpointAsync(Guid checkpointId, CancellationToken ct) =>
        await Store.GetCheckpointAsync(checkpointId, ct).ConfigureAwait(false) ?? throw new CheckpointNotFoundException(checkpointId);
}

/// <summary>Builds pipelines from their registrations once, on first use.</summary>
internal sealed class PipelineRegistry(IEnumerable<PipelineBuilder> builders, IServiceProvider services)
{
    private readonly Lazy<IReadOnlyDictionary<string, PipelineDefinition>> _pipelines = new(() =>
    {
        var result = new Dictionary<string, PipelineDefinition>(StringComparer.Ordinal);
        foreach (var builder in builders)
        {
            if (!result.TryAdd(builder.Name, builder.Build(services)))
            {
                throw new InvalidOperationException($"Pipeline '{builder.Name}' is registered twice; give each pipeline its own name.");
            }
        }

        return result;
    });

    public IEnumerable<string> Names => _pipelines.Value.Keys;

    public PipelineDefinition Get(string name) =>
        _pipelines.Value.TryGetValue(name, out var pipeline) ? pipeline : throw new PipelineNotFoundException(name, Names);
}
