using System.Text.Json;
using System.Text.Json.Serialization;

namespace Checkpointing;

/// <summary>A reference to content-addressed bytes in an <see cref="IBlobStore"/>.</summary>
/// <param name="Hash">Lower-case hex SHA-256 of the bytes.</param>
/// <param name="Size">Length in bytes.</param>
/// <param name="MediaType">The media type detected from the bytes, e.g. <c>image/png</c>.</param>
public sealed record BlobReference(string Hash, long Size, string MediaType);

/// <summary>The content of an artifact version: inline JSON or a blob reference (exactly one is set).</summary>
public sealed record ArtifactContent
{
    [JsonConstructor]
    private ArtifactContent(JsonElement? json, BlobReference? blob)
    {
        Json = json;
        Blob = blob;
    }

    /// <summary>The inline JSON content, when the artifact is stored inline.</summary>
    public JsonElement? Json { get; }

    /// <summary>The blob reference, when the artifact's bytes live in the blob store.</summary>
    public BlobReference? Blob { get; }

    /// <summary>True when the content is inline JSON.</summary>
    [JsonIgnore]
    public bool IsJson => Json.HasValue;

    /// <summary>Creates inline JSON content.</summary>
    /// <param name="json">The JSON value (cloned, so the caller's document may be disposed).</param>
    public static ArtifactContent FromJson(JsonElement json) => new(json.Clone(), null);

    /// <summary>Creates content that points to a blob.</summary>
    /// <param name="blob">The blob reference.</param>
    public static ArtifactContent FromBlob(BlobReference blob)
    {
        ArgumentNullException.ThrowIfNull(blob);
        return new(null, blob);
    }

    /// <inheritdoc />
    public bool Equals(ArtifactContent? other) =>
        other is not null
        && Equals(Blob, other.Blob)
        && (Json is null ? other.Json is null : other.Json is not null && JsonElement.DeepEquals(Json.Value, other.Json.Value));

    /// <inheritdoc />
    public override int GetHashCode() => Blob?.GetHashCode() ?? Json?.GetRawText().GetHashCode(StringComparison.Ordinal) ?? 0;
}

/// <summary>Facts about how an artifact version was produced.</summary>
/// <param name="Prompt">The prompt used, if any.</param>
/// <param name="Model">The model used, if any.</param>
/// <param name="Seed">The seed used, if any.</param>
/// <param name="ExternalJobId">The backend's job id (e.g. a prediction id), if any.</param>
/// <param name="Cost">What producing this version cost.</param>
/// <param name="Extra">Any other JSON metadata.</param>
public sealed record ArtifactMetadata(
    string? Prompt = null,
    string? Model = null,
    long? Seed = null,
    string? ExternalJobId = null,
    decimal Cost = 0m,
    JsonElement? Extra = null)
{
    /// <summary>Metadata with nothing set.</summary>
    public static ArtifactMetadata Empty { get; } = new();
}

/// <summary>The current version of one artifact of a checkpoint.</summary>
public sealed record Artifact
{
    /// <summary>The artifact id (stable across versions).</summary>
    public required Guid Id { get; init; }

    /// <summary>The checkpoint that owns the artifact.</summary>
    public required Guid CheckpointId { get; init; }

    /// <summary>The artifact type, e.g. <c>beat_image</c>.</summary>
    public required string Type { get; init; }

    /// <summary>The key within the type, e.g. <c>beat_3</c>.</summary>
    public required string Key { get; init; }

    /// <summary>The current version, starting at 1.</summary>
    public required int Version { get; init; }

    /// <summary>The current content.</summary>
    public required ArtifactContent Content { get; init; }

    /// <summary>How the current version was produced.</summary>
    public required ArtifactMetadata Metadata { get; init; }

    /// <summary>The unit index for artifacts of unit-based phases.</summary>
    public int? UnitIndex { get; init; }

    /// <summary>When the current version was written.</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>Who wrote the current version.</summary>
    public string? UpdatedBy { get; init; }

    /// <summary>Why the current version was written.</summary>
    public string? Reason { get; init; }
}

/// <summary>One immutable version in an artifact's history.</summary>
/// <param name="ArtifactId">The artifact id.</param>
/// <param name="Version">The version number.</param>
/// <param name="ParentVersion">The version this one replaced, or null for version 1.</param>
/// <param name="Content">The content of this version.</param>
/// <param name="Metadata">How this version was produced.</param>
/// <param name="CreatedAt">When this version was written.</param>
/// <param name="CreatedBy">Who wrote it.</param>
/// <param name="Reason">Why it was written (e.g. the edit kind and description).</param>
public sealed record ArtifactVersion(
    Guid ArtifactId,
    int Version,
    int? ParentVersion,
    ArtifactContent Content,
    ArtifactMetadata Metadata,
    DateTimeOffset CreatedAt,
    string? CreatedBy,
    string? Reason)
{
    /// <summary>
    /// The revision of the owning checkpoint that this version was written at (see <see cref="Checkpoint.Revision"/>):
    /// 0 for version 1, the checkpoint's new revision for every edit.
    /// </summary>
    public long Revision { get; init; }
}
