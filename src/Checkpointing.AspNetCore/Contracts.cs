using System.Text.Json;
using System.Text.Json.Serialization;

namespace Checkpointing.AspNetCore;

/// <summary>A run as the API returns it.</summary>
/// <param name="Id">The run id.</param>
/// <param name="Pipeline">The pipeline's name.</param>
/// <param name="OwnerId">Who owns the run.</param>
/// <param name="Input">The run's input.</param>
/// <param name="AutoContinue">Whether checkpoints are approved without pausing.</param>
/// <param name="Status">queued, running, paused, completed, failed or cancelled.</param>
/// <param name="CurrentPhase">The phase running or awaiting review.</param>
/// <param name="CurrentBranch">The branch of that phase.</param>
/// <param name="ParentCheckpointId">The checkpoint the running phase continues from.</param>
/// <param name="Error">The last failure's error.</param>
/// <param name="Cost">The run's total cost.</param>
/// <param name="Budget">The run's spending limit.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="UpdatedAt">When it last changed.</param>
public sealed record RunResponse(
    Guid Id, string Pipeline, string OwnerId, JsonElement Input, bool AutoContinue, string Status, int? CurrentPhase, string? CurrentBranch,
    Guid? ParentCheckpointId, string? Error, decimal Cost, decimal? Budget, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    internal static RunResponse From(Run r) => new(
        r.Id, r.Pipeline, r.OwnerId, r.Input, r.AutoContinue, Lower(r.Status), r.CurrentPhase, r.CurrentBranch, r.ParentCheckpointId, r.Error, r.Cost, r.Budget, r.CreatedAt, r.UpdatedAt);

    internal static string Lower<TEnum>(TEnum value)
        where TEnum : struct, Enum => value.ToString().ToLowerInvariant();
}

/// <summary>A checkpoint as the API returns it.</summary>
/// <param name="Id">The checkpoint id.</param>
/// <param name="RunId">Its run.</param>
/// <param name="Branch">Its branch.</param>
/// <param name="Phase">Its phase number.</param>
/// <param name="Version">Unique per run, branch and phase.</param>
/// <param name="ParentId">The checkpoint it was continued from.</param>
/// <param name="Status">pending, approved or abandoned.</param>
/// <param name="ApprovedAt">When it was approved.</param>
/// <param name="CreatedAt">When it was committed.</param>
/// <param name="Output">The phase's JSON summary.</param>
/// <param name="Cost">What its artifacts cost, regenerations included.</param>
/// <param name="CreatedBy">Who caused it.</param>
/// <param name="EditDescription">The description of the edits that led to it.</param>
/// <param name="Revision">How many edits its artifacts have had (0 as committed).</param>
/// <param name="ParentRevision">The parent's revision it was built from, or null for phase 1.</param>
public sealed record CheckpointResponse(
    Guid Id, Guid RunId, string Branch, int Phase, int Version, Guid? ParentId, string Status, DateTimeOffset? ApprovedAt, DateTimeOffset CreatedAt,
    JsonElement? Output, decimal Cost, string? CreatedBy, string? EditDescription, long Revision, long? ParentRevision)
{
    internal static CheckpointResponse From(Checkpoint c) => new(
        c.Id, c.RunId, c.Branch, c.Phase, c.Version, c.ParentId, RunResponse.Lower(c.Status), c.ApprovedAt, c.CreatedAt, c.Output, c.Cost, c.CreatedBy,
        c.EditDescription, c.Revision, c.ParentRevision);
}

/// <summary>An artifact's current version. Its <see cref="ETag"/> is also sent as the <c>ETag</c> header; send it back in <c>If-Match</c> to edit only that version.</summary>
/// <param name="Id">The artifact id.</param>
/// <param name="CheckpointId">Its checkpoint.</param>
/// <param name="Type">The artifact type.</param>
/// <param name="Key">The artifact key.</param>
/// <param name="Version">The current version.</param>
/// <param name="ETag">The entity tag of the current version.</param>
/// <param name="Content">Inline JSON or a blob reference.</param>
/// <param name="Metadata">How the version was produced (prompt, model, seed, job id, cost).</param>
/// <param name="UnitIndex">The unit index, for artifacts of unit-based phases.</param>
/// <param name="UpdatedAt">When the version was written.</param>
/// <param name="UpdatedBy">Who wrote it.</param>
/// <param name="Reason">Why.</param>
/// <param name="ContentUrl">This API's URL of the content (supports ranges).</param>
/// <param name="ReadUrl">The blob store's short-lived read URL, when it is an HTTP URL.</param>
public sealed record ArtifactResponse(
    Guid Id, Guid CheckpointId, string Type, string Key, int Version, string ETag, ArtifactContent Content, ArtifactMetadata Metadata, int? UnitIndex,
    DateTimeOffset UpdatedAt, string? UpdatedBy, string? Reason, string ContentUrl, Uri? ReadUrl);

/// <summary>A checkpoint with its current artifacts and what it was built from.</summary>
/// <param name="Checkpoint">The checkpoint.</param>
/// <param name="Artifacts">Its artifacts, with read URLs.</param>
/// <param name="Consumed">The artifact versions of its lineage it was built from, lowest phase first (empty for phase 1).</param>
public sealed record CheckpointDetailsResponse(CheckpointResponse Checkpoint, IReadOnlyList<ArtifactResponse> Artifacts, IReadOnlyList<ArtifactPin> Consumed);

/// <summary>One version of an artifact's history.</summary>
/// <param name="Version">The version.</param>
/// <param name="ParentVersion">The version it replaced.</param>
/// <param name="Content">Its content.</param>
/// <param name="Metadata">How it was produced.</param>
/// <param name="CreatedAt">When.</param>
/// <param name="CreatedBy">Who.</param>
/// <param name="Reason">Why.</param>
/// <param name="ContentUrl">This API's URL of its content (supports ranges).</param>
public sealed record ArtifactVersionResponse(
    int Version, int? ParentVersion, ArtifactContent Content, ArtifactMetadata Metadata, DateTimeOffset CreatedAt, string? CreatedBy, string? Reason, string ContentUrl);

/// <summary>A branch with its leaf checkpoint.</summary>
/// <param name="Name">The branch name.</param>
/// <param name="ParentBranch">The branch it was forked from.</param>
/// <param name="ForkedFrom">The checkpoint it was forked from.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="Leaf">Its latest checkpoint, when it has one.</param>
/// <param name="CanContinue">Whether the leaf can be continued.</param>
public sealed record BranchResponse(string Name, string? ParentBranch, Guid? ForkedFrom, DateTimeOffset CreatedAt, CheckpointResponse? Leaf, bool CanContinue);

/// <summary>A node of the checkpoint tree.</summary>
/// <param name="Checkpoint">The checkpoint.</param>
/// <param name="Children">The checkpoints continued from it.</param>
public sealed record TreeNodeResponse(CheckpointResponse Checkpoint, IReadOnlyList<TreeNodeResponse> Children)
{
    internal static TreeNodeResponse From(CheckpointNode node) => new(CheckpointResponse.From(node.Checkpoint), node.Children.Select(From).ToList());
}

/// <summary>Everything a status page shows about a run.</summary>
/// <param name="Run">The run.</param>
/// <param name="Current">The checkpoint awaiting review, if any.</param>
/// <param name="Tree">The checkpoint tree's roots.</param>
/// <param name="Branches">Every branch with its leaf.</param>
/// <param name="Cost">The run's total cost.</param>
public sealed record RunStatusResponse(RunResponse Run, CheckpointResponse? Current, IReadOnlyList<TreeNodeResponse> Tree, IReadOnlyList<BranchResponse> Branches, decimal Cost);

/// <summary>The outcome of continuing a checkpoint.</summary>
/// <param name="NextPhase">The phase that runs next.</param>
/// <param name="Branch">The branch it runs on.</param>
/// <param name="BranchCreated">Whether a branch was forked for it.</param>
/// <param name="AlreadyContinued">True when nothing ran because the checkpoint had been continued in this state before.</param>
/// <param name="Queued">True when the phase was queued for a worker instead of run inline.</param>
/// <param name="Checkpoint">The checkpoint the next phase produced, when it finished.</param>
/// <param name="Run">The run after the call.</param>
public sealed record ContinueResponse(int NextPhase, string Branch, bool BranchCreated, bool AlreadyContinued, bool Queued, CheckpointResponse? Checkpoint, RunResponse Run);

/// <summary>The outcome of an edit.</summary>
/// <param name="Artifact">The artifact at its new version.</param>
/// <param name="PreviousVersion">The version it replaced.</param>
public sealed record EditResponse(ArtifactResponse Artifact, int PreviousVersion);

/// <summary>The body of <c>POST /runs</c>.</summary>
/// <param name="Pipeline">The pipeline's name.</param>
/// <param name="Input">The run's input.</param>
/// <param name="AutoContinue">Run every phase without pausing.</param>
/// <param name="Budget">An optional spending limit.</param>
public sealed record StartRunBody(string Pipeline, JsonElement Input, bool AutoContinue = false, decimal? Budget = null);

/// <summary>The body of <c>POST …/continue</c> (optional).</summary>
/// <param name="Description">A description of the edits, recorded on the new checkpoint.</param>
public sealed record ContinueBody(string? Description = null);

/// <summary>The body of <c>POST …/units/{unitIndex}/regenerate</c> (optional).</summary>
/// <param name="Prompt">Use this prompt instead of the planned one.</param>
/// <param name="Model">Use this model instead of the default.</param>
/// <param name="Seed">Use this seed.</param>
/// <param name="Description">Why (recorded in history).</param>
public sealed record RegenerateBody(string? Prompt = null, string? Model = null, long? Seed = null, string? Description = null);

/// <summary>
/// One event of the status stream (the <c>data</c> of an SSE item; the SSE <c>event</c> field is <see cref="Kind"/>).
/// Fields that do not apply to the kind are omitted.
/// </summary>
/// <param name="Kind">connected (the first item of every stream), phase_started, unit_completed, checkpoint_created, paused, branch_created, artifact_edited, run_completed, run_failed or run_cancelled.</param>
/// <param name="RunId">The run.</param>
/// <param name="At">When it happened.</param>
public sealed record CheckpointEventResponse(string Kind, Guid RunId, DateTimeOffset At)
{
    /// <summary>The event's position in the run's stream (the SSE id), when the store numbers events.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? Sequence { get; init; }

    /// <summary>The phase number.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Phase { get; init; }

    /// <summary>The phase name (phase_started).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? PhaseName { get; init; }

    /// <summary>The branch.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Branch { get; init; }

    /// <summary>The branch a new branch was forked from (branch_created).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ParentBranch { get; init; }

    /// <summary>The checkpoint a new branch was forked from (branch_created).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Guid? ForkedFrom { get; init; }

    /// <summary>The checkpoint concerned.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Guid? CheckpointId { get; init; }

    /// <summary>The unit that finished (unit_completed).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? UnitIndex { get; init; }

    /// <summary>How many units are finished (unit_completed).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Completed { get; init; }

    /// <summary>How many units the phase has (unit_completed).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Total { get; init; }

    /// <summary>A cost: of the unit, the checkpoint, or the whole run (run_completed).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public decimal? Cost { get; init; }

    /// <summary>The artifact type (artifact_edited).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Type { get; init; }

    /// <summary>The artifact key (artifact_edited).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Key { get; init; }

    /// <summary>The artifact's new version (artifact_edited).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Version { get; init; }

    /// <summary>The kind of edit: patch_json, replace_content or regenerate_unit (artifact_edited).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? EditKind { get; init; }

    /// <summary>The error (run_failed).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Error { get; init; }
}
