using System.Text.Json.Serialization;

namespace Checkpointing;

/// <summary>Something that happened to a run. Subscribe with <see cref="CheckpointQueries.WatchAsync(Guid?, CancellationToken)"/>.</summary>
/// <param name="RunId">The run.</param>
/// <param name="At">When it happened.</param>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(PhaseStarted), "phase_started")]
[JsonDerivedType(typeof(UnitCompleted), "unit_completed")]
[JsonDerivedType(typeof(CheckpointCreated), "checkpoint_created")]
[JsonDerivedType(typeof(RunPaused), "paused")]
[JsonDerivedType(typeof(BranchCreated), "branch_created")]
[JsonDerivedType(typeof(ArtifactEdited), "artifact_edited")]
[JsonDerivedType(typeof(RunCompleted), "run_completed")]
[JsonDerivedType(typeof(RunFailed), "run_failed")]
[JsonDerivedType(typeof(RunCancelled), "run_cancelled")]
public abstract record CheckpointEvent(Guid RunId, DateTimeOffset At)
{
    /// <summary>
    /// The event's position in the store's event log (it grows with every event); resume a stream after it with
    /// <see cref="CheckpointQueries.WatchAsync(Guid, long, CancellationToken)"/>. 0 when the event was not logged.
    /// </summary>
    public long Sequence { get; init; }

    /// <summary>The event's type as logged and streamed, e.g. <c>checkpoint_created</c> (its JSON <c>kind</c> discriminator).</summary>
    [JsonIgnore]
    public string EventType => Kinds.GetValueOrDefault(GetType(), "event");

    private static readonly Dictionary<Type, string> Kinds = typeof(CheckpointEvent)
        .GetCustomAttributes(typeof(JsonDerivedTypeAttribute), inherit: false)
        .Cast<JsonDerivedTypeAttribute>()
        .ToDictionary(a => a.DerivedType, a => (string)a.TypeDiscriminator!);
}

/// <summary>A phase started on a branch.</summary>
/// <param name="RunId">The run.</param>
/// <param name="At">When.</param>
/// <param name="Phase">The phase number.</param>
/// <param name="PhaseName">The phase name.</param>
/// <param name="Branch">The branch.</param>
public sealed record PhaseStarted(Guid RunId, DateTimeOffset At, int Phase, string PhaseName, string Branch) : CheckpointEvent(RunId, At);

/// <summary>A unit of a unit-based phase finished.</summary>
/// <param name="RunId">The run.</param>
/// <param name="At">When.</param>
/// <param name="Phase">The phase number.</param>
/// <param name="UnitIndex">The unit that finished.</param>
/// <param name="Completed">How many units of the phase are finished.</param>
/// <param name="Total">How many units the phase has.</param>
/// <param name="Cost">What the unit cost.</param>
public sealed record UnitCompleted(Guid RunId, DateTimeOffset At, int Phase, int UnitIndex, int Completed, int Total, decimal Cost) : CheckpointEvent(RunId, At);

/// <summary>A checkpoint was committed.</summary>
/// <param name="RunId">The run.</param>
/// <param name="At">When.</param>
/// <param name="CheckpointId">The checkpoint.</param>
/// <param name="Phase">Its phase.</param>
/// <param name="Branch">Its branch.</param>
/// <param name="Cost">Its cost.</param>
public sealed record CheckpointCreated(Guid RunId, DateTimeOffset At, Guid CheckpointId, int Phase, string Branch, decimal Cost) : CheckpointEvent(RunId, At);

/// <summary>The run paused for review.</summary>
/// <param name="RunId">The run.</param>
/// <param name="At">When.</param>
/// <param name="CheckpointId">The checkpoint awaiting review.</param>
/// <param name="Phase">Its phase.</param>
public sealed record RunPaused(Guid RunId, DateTimeOffset At, Guid CheckpointId, int Phase) : CheckpointEvent(RunId, At);

/// <summary>A branch was forked.</summary>
/// <param name="RunId">The run.</param>
/// <param name="At">When.</param>
/// <param name="Branch">The new branch.</param>
/// <param name="ParentBranch">The branch it was forked from.</param>
/// <param name="ForkedFrom">The checkpoint it was forked from.</param>
public sealed record BranchCreated(Guid RunId, DateTimeOffset At, string Branch, string ParentBranch, Guid ForkedFrom) : CheckpointEvent(RunId, At);

/// <summary>An artifact was edited.</summary>
/// <param name="RunId">The run.</param>
/// <param name="At">When.</param>
/// <param name="CheckpointId">The checkpoint.</param>
/// <param name="Type">The artifact type.</param>
/// <param name="Key">The artifact key.</param>
/// <param name="Version">Its new version.</param>
/// <param name="Kind">The kind of edit.</param>
public sealed record ArtifactEdited(Guid RunId, DateTimeOffset At, Guid CheckpointId, string Type, string Key, int Version, EditKinds Kind) : CheckpointEvent(RunId, At);

/// <summary>The run completed.</summary>
/// <param name="RunId">The run.</param>
/// <param name="At">When.</param>
/// <param name="CheckpointId">The terminal checkpoint.</param>
/// <param name="Cost">The run's total cost.</param>
public sealed record RunCompleted(Guid RunId, DateTimeOffset At, Guid CheckpointId, decimal Cost) : CheckpointEvent(RunId, At);

/// <summary>A phase of the run failed.</summary>
/// <param name="RunId">The run.</param>
/// <param name="At">When.</param>
/// <param name="Phase">The phase.</param>
/// <param name="Error">The error.</param>
public sealed record RunFailed(Guid RunId, DateTimeOffset At, int Phase, string Error) : CheckpointEvent(RunId, At);

/// <summary>The run was cancelled.</summary>
/// <param name="RunId">The run.</param>
/// <param name="At">When.</param>
public sealed record RunCancelled(Guid RunId, DateTimeOffset At) : CheckpointEvent(RunId, At);
