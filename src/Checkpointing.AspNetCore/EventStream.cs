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

    /// <summary>The kind of the first item of every stream: the subscription is live, later events will arrive.</summary>
    public const string Connected = "connected";

    /// <summary>
    /// Subscribes now (before the response starts), then streams: a <see cref="Connected"/> item, and every event of
    /// the run after <paramref name="after"/>.
    /// </summary>
    public static IAsyncEnumerable<SseItem<CheckpointEventResponse>> Open(CheckpointQueries queries, Guid runId, long? after, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // Events are numbered in the store's log: Last-Event-ID resumes right after the last one the client saw.
        var events = after is { } sequence ? queries.WatchAsync(runId, sequence, cancellationToken) : queries.WatchAsync(runId, cancellationToken);
        return ReadAsync(events, new CheckpointEventResponse(Connected, runId, now), cancellationToken);
    }

    private static async IAsyncEnumerable<SseItem<CheckpointEventResponse>> ReadAsync(IAsyncEnumerable<CheckpointEvent> events, CheckpointEventResponse connected, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        yield return new SseItem<CheckpointEventResponse>(connected, Connected);
        await foreach (var e in events.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            var data = ToResponse(e);
            yield return new SseItem<CheckpointEventResponse>(data, data.Kind) { EventId = IdOf(data) };
        }
    }

    /// <summary>The SSE id of an event: its sequence number, when it has one.</summary>
    public static string? IdOf(CheckpointEventResponse e) => e.Sequence?.ToString(CultureInfo.InvariantCulture);

    public static CheckpointEventResponse ToResponse(CheckpointEvent e)
    {
        var r = new CheckpointEventResponse(e.EventType, e.RunId, e.At) { Sequence = e.Sequence > 0 ? e.Sequence : null };
        return e switch
        {
            PhaseStarted p => r with { Phase = p.Phase, PhaseName = p.PhaseName, Branch = p.Branch },
            UnitCompleted u => r with { Phase = u.Phase, UnitIndex = u.UnitIndex, Completed = u.Completed, Total = u.Total, Cost = u.Cost },
            CheckpointCreated c => r with { CheckpointId = c.CheckpointId, Phase = c.Phase, Branch = c.Branch, Cost = c.Cost },
            RunPaused p => r with { CheckpointId = p.CheckpointId, Phase = p.Phase },
            BranchCreated b => r with { Branch = b.Branch, ParentBranch = b.ParentBranch, ForkedFrom = b.ForkedFrom },
            ArtifactEdited a => r with { CheckpointId = a.CheckpointId, Type = a.Type, Key = a.Key, Version = a.Version, EditKind = EditKindName(a.Kind) },
            RunCompleted c => r with { CheckpointId = c.CheckpointId, Cost = c.Cost },
            RunFailed f => r with { Phase = f.Phase, Error = f.Error },
            _ => r,
        };
    }

    private static string EditKindName(EditKinds kind) => kind switch
    {
        EditKinds.PatchJson => "patch_json",
        EditKinds.ReplaceContent => "replace_content",
        EditKinds.RegenerateUnit => "regenerate_unit",
        _ => kind.ToString().ToLowerInvariant(),
    };
}
