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
/// <param name="Id">The checkpoint id.</param>
/// <param name="RunId">The run the checkpoint belongs to.</param>
/// <param name="Branch">The branch name, e.g. <c>main</c> or <c>main-1</c>.</param>
/// <param name="Phase">The 1-based phase number.</param>
/// <param name="Version">Unique per run, branch and phase, starting at 1.</param>
/// <param name="ParentId">The checkpoint this one was continued from, or null for phase 1 of a run.</param>
/// <param name="Status">The review state.</param>
/// <param name="ApprovedAt">When the checkpoint was approved.</param>
/// <param name="CreatedAt">When the checkpoint was committed.</param>
/// <param name="Output">The phase's JSON summary.</param>
/// <param name="Cost">The cost of generating the checkpoint's artifacts, plus later regenerations.</param>
/// <param name="CreatedBy">Who caused the checkpoint to be created.</param>
/// <param name="EditDescription">Optional description of the edits that led to this checkpoint.</param>
/// <param name="Consumed">Exactly which artifact versions of its lineage this checkpoint was built from.</param>
public sealed record Checkpoint(
    Guid Id,
    Guid RunId,
    string Branch,
    int Phase,
    int Version,
    Guid? ParentId,
    CheckpointStatus Status,
    DateTimeOffset? ApprovedAt,
    DateTimeOffset CreatedAt,
    JsonElement? Output,
    decimal Cost,
    string? CreatedBy,
    string? EditDescription,
    IReadOnlyList<ArtifactPin> Consumed);

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
