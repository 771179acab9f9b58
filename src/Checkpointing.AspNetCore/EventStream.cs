using System.Globalization;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using T = Checkpointing.AspNetCore.CheckpointingProblemTypes;

namespace Checkpointing.AspNetCore;

/// <summary>
/// The status stream's events and their ids: the one place that decides what an SSE <c>id</c> is and how
/// <c>Last-Event-ID</c> resumes.
/// </summary>
internal static class EventStream
{
    /// <summary>The event name of each SSE item: the event's kind, as in its JSON <c>kind</c> property.</summary>
    public static string KindOf(CheckpointEvent e) => e switch
    {
        PhaseStarted => "phase_started",
        UnitCompleted => "unit_completed",
        CheckpointCreated => "checkpoint_created",
        RunPaused => "paused",
        BranchCreated => "branch_created",
        ArtifactEdited => "artifact_edited",
        RunCompleted => "run_completed",
        RunFailed => "run_failed",
        RunCancelled => "run_cancelled",
        _ => "event",
    };

    /// <summary>The sequence after which to resume, from <c>Last-Event-ID</c>; null when absent.</summary>
    public static long? ParseLastEventId(HttpRequest request)
    {
        var text = request.Headers["Last-Event-ID"].ToString();
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        return long.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new HttpProblemException(400, T.BadRequest, "Bad request", $"Last-Event-ID '{text}' is not an event id of this stream; ids are the events' sequence numbers.");
    }

    public static async IAsyncEnumerable<SseItem<CheckpointEvent>> ReadAsync(CheckpointQueries queries, Guid runId, long? after, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        _ = after; // Resuming needs stored, numbered events; until the SDK has them the stream starts at now.
        await foreach (var e in queries.WatchAsync(runId, cancellationToken).ConfigureAwait(false))
        {
            yield return new SseItem<CheckpointEvent>(e, KindOf(e));
        }
    }
}
