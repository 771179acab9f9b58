using System.Text.Json;

namespace Checkpointing;

/// <summary>The review state of a <see cref="Checkpoint"/>.</summary>
public enum CheckpointStatus
{
    /// <summary>Awaiting review.</summary>
    Pending,
    /// <summary>Approved: a later phase was started from it (or it is the terminal phase).</summary>
    Approved,
    /// <summary>Set aside; it cannot be edited or continued.</summary>
    Abandoned,
}

/// <summary>The result of one phase on one branch.</summary>
/// <remarks>
/// A checkpoint does not copy what it was built from: it names its parent and the parent's <see cref="Revision"/> at the
/// moment it was continued (<see cref="ParentRevision"/>). Each artifact version records the revision that wrote it, so
/// the exact inputs follow from the lineage (<see cref="CheckpointQueries.GetInputsAsync"/>), and forking costs the
/// same whatever the number of artifacts.
/// </remarks>
public sealed record Checkpoint
{
    /// <summary>The checkpoint id.</summary>
    public required Guid Id { get; init; }

    /// <summary>The run the checkpoint belongs to.</summary>
    public required Guid RunId { get; init; }

    /// <summary>The branch name, e.g. <c>main</c> or <c>main-1</c>.</summary>
    public required string Branch { get; init; }

    /// <summary>The 1-based phase number.</summary>
    public required int Phase { get; init; }

    /// <summary>Unique per run, branch and phase, starting at 1.</summary>
    public required int Version { get; init; }

    /// <summary>The checkpoint this one was continued from, or null for phase 1 of a run.</summary>
    public Guid? ParentId { get; init; }

    /// <summary>
    /// The <see cref="Revision"/> of the parent this checkpoint was built from: the phase consumed the parent's artifacts
    /// as they stood at that revision (later edits of the parent never change it). Null for phase 1.
    /// </summary>
    public long? ParentRevision { get; init; }

    /// <summary>
    /// Counts the edits of this checkpoint's artifacts: 0 when committed, one more with every new artifact version. The
    /// state of all its artifacts at a revision is fixed once the revision is reached.
    /// </summary>
    public long Revision { get; init; }

    /// <summary>The review state.</summary>
    public CheckpointStatus Status { get; init; }

    /// <summary>When the checkpoint was approved.</summary>
    public DateTimeOffset? ApprovedAt { get; init; }

    /// <summary>When the checkpoint was committed.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>The phase's JSON summary.</summary>
    public JsonElement? Output { get; init; }

    /// <summary>The cost of generating the checkpoint's artifacts, plus later regenerations.</summary>
    public decimal Cost { get; init; }

    /// <summary>Who caused the checkpoint to be created.</summary>
    public string? CreatedBy { get; init; }

    /// <summary>Optional description of the edits that led to this checkpoint.</summary>
    public string? EditDescription { get; init; }
}

/// <summary>A pinned artifact version that a checkpoint consumed from its lineage.</summary>
/// <param name="ArtifactId">The artifact's id.</param>
/// <param name="CheckpointId">The checkpoint that owns the artifact.</param>
/// <param name="Phase">The phase of the owning checkpoint.</param>
/// <param name="Type">The artifact type.</param>
/// <param name="Key">The artifact key.</param>
/// <param name="Version">The version consumed.</param>
public sealed record ArtifactPin(Guid ArtifactId, Guid CheckpointId, int Phase, string Type, string Key, int Version);

/// <summary>A line of checkpoints within a run.</summary>
/// <param name="RunId">The run.</param>
/// <param name="Name">The branch name.</param>
/// <param name="ParentBranch">The branch it was forked from, or null for <c>main</c>.</param>
/// <param name="ForkedFrom">The checkpoint it was forked from, or null for <c>main</c>.</param>
/// <param name="CreatedAt">When the branch was created.</param>
public sealed record Branch(Guid RunId, string Name, string? ParentBranch, Guid? ForkedFrom, DateTimeOffset CreatedAt);
