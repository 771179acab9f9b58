using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Checkpointing;

/// <summary>
/// Carries <see cref="CheckpointEvent"/>s from the runner and editor to subscribers. The default is in-process;
/// stores that can notify other processes (PostgreSQL LISTEN/NOTIFY) provide their own.
/// </summary>
public interface ICheckpointEventBus
{
    /// <summary>Publishes an event to current subscribers. Never blocks on slow subscribers.</summary>
    /// <param name="event">The event.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask PublishAsync(CheckpointEvent @event, CancellationToken cancellationToken = default);

    /// <summary>Streams events published from now on, optionally of one run, until the token is cancelled.</summary>
    /// <param name="runId">Only this run's events, or null for all.</param>
    /// <param name="cancellationToken">Ends the stream.</param>
    IAsyncEnumerable<CheckpointEvent> SubscribeAsync(Guid? runId, CancellationToken cancellationToken = default);
}

/// <summary>The in-process event bus: each subscriber gets its own bounded queue (oldest events dropped when it falls 10,000 behind).</summary>
public sealed class InMemoryEventBus : ICheckpointEventBus
{
    private readonly ConcurrentDictionary<Channel<CheckpointEvent>, Guid?> _subscribers = new();

    /// <inheritdoc />
    public ValueTask PublishAsync(CheckpointEvent @event, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(@event);
        foreach (var (channel, runId) in _subscribers)
        {
            if (runId is null || runId == @event.RunId)
            {
                channel.Writer.TryWrite(@event);
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public IAsyncEnumerable<CheckpointEvent> SubscribeAsync(Guid? runId, CancellationToken cancellationToken = default)
    {
        // Register now, not at the first MoveNext, so events published right after this call are not missed.
        var channel = Channel.CreateBounded<CheckpointEvent>(new BoundedChannelOptions(10_000)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        _subscribers[channel] = runId;
        return ReadAsync(channel, cancellationToken);
    }

    private async IAsyncEnumerable<CheckpointEvent> ReadAsync(Channel<CheckpointEvent> channel, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var e in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return e;
            }
        }
        finally
        {
            _subscribers.TryRemove(channel, out _);
        }
    }
}
