using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Checkpointing.Internal;

/// <summary>How events are written to and read from a store's event log, and how a watcher follows it.</summary>
internal static class EventLog
{
    /// <summary>How long a watcher waits before reading the log again when the store cannot notify it.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    private const int PageSize = 256;

    // The default (not web) naming: ArtifactEdited has a Kind property, which must not clash with the "kind" discriminator.
    private static readonly JsonSerializerOptions Options = new();

    public static string Serialize(CheckpointEvent e) => JsonSerializer.Serialize(e, Options);

    public static CheckpointEvent? Deserialize(StoredEvent stored)
    {
        try
        {
            return JsonSerializer.Deserialize<CheckpointEvent>(stored.Payload, Options) is { } e ? e with { Sequence = stored.Sequence } : null;
        }
        catch (JsonException)
        {
            return null; // an event kind this version does not know
        }
    }

    /// <summary>Follows the run's log after <paramref name="after"/>: every event in order, then new ones as they are logged.</summary>
    public static async IAsyncEnumerable<CheckpointEvent> FollowAsync(SdkServices sdk, Guid runId, Task<long> after, [EnumeratorCancellation] CancellationToken ct)
    {
        var position = await after.ConfigureAwait(false);
        var notifications = sdk.Store as ICheckpointStoreNotifications;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var local = sdk.NextLocalEvent; // taken before the read, so an event logged meanwhile wakes the wait below
            var page = await sdk.Store.ReadEventsAsync(runId, position, PageSize, ct).ConfigureAwait(false);
            foreach (var stored in page)
            {
                position = stored.Sequence;
                if (Deserialize(stored) is { } e)
                {
                    yield return e;
                }
            }

            if (page.Count == PageSize)
            {
                continue;
            }

            var remote = notifications is null
                ? Task.Delay(PollInterval, sdk.Time, ct)
                : notifications.WaitForChangeAsync(PollInterval * 8, ct);
            await Task.WhenAny(local, remote).ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
        }
    }
}
