namespace Checkpointing.AspNetCore;

/// <summary>
/// The <c>type</c> URIs of the RFC 9457 problem details the endpoints answer with: one per SDK exception and per
/// HTTP-level refusal, so a client can tell them apart without parsing messages.
/// </summary>
public static class CheckpointingProblemTypes
{
    private const string Prefix = "urn:checkpointing:problem:";

    /// <summary>404: no run has the id, or it belongs to another owner (<see cref="RunNotFoundException"/>).</summary>
    public const string RunNotFound = Prefix + "run-not-found";
    /// <summary>404: no checkpoint has the id, or its run belongs to another owner (<see cref="CheckpointNotFoundException"/>).</summary>
    public const string CheckpointNotFound = Prefix + "checkpoint-not-found";
    /// <summary>404: the checkpoint holds no such artifact or version (<see cref="ArtifactNotFoundException"/>).</summary>
    public const string ArtifactNotFound = Prefix + "artifact-not-found";
    /// <summary>404: no pipeline has the name (<see cref="PipelineNotFoundException"/>).</summary>
    public const string PipelineNotFound = Prefix + "pipeline-not-found";
    /// <summary>404: the blob is not in the blob store (<see cref="BlobNotFoundException"/>).</summary>
    public const string BlobNotFound = Prefix + "blob-not-found";
    /// <summary>404: the checkpoint has no unit with that index (<see cref="UnitIndexOutOfRangeException"/>).</summary>
    public const string UnitNotFound = Prefix + "unit-not-found";
    /// <summary>404: something else does not exist (another <see cref="NotFoundException"/>).</summary>
    public const string NotFound = Prefix + "not-found";
    /// <summary>409: a concurrent writer won a race (<see cref="ConcurrencyConflictException"/> without <c>If-Match</c>).</summary>
    public const string Conflict = Prefix + "conflict";
    /// <summary>412: the <c>If-Match</c> version is not the artifact's current version; read it again.</summary>
    public const string PreconditionFailed = Prefix + "precondition-failed";
    /// <summary>409: the checkpoint was abandoned (<see cref="CheckpointAbandonedException"/>).</summary>
    public const string CheckpointAbandoned = Prefix + "checkpoint-abandoned";
    /// <summary>409: the checkpoint is at the terminal phase (<see cref="TerminalPhaseException"/>).</summary>
    public const string TerminalPhase = Prefix + "terminal-phase";
    /// <summary>409: the run's status forbids the operation (<see cref="RunStateException"/>).</summary>
    public const string RunState = Prefix + "run-state";
    /// <summary>409: the state forbids the operation (another <see cref="InvalidStateException"/>).</summary>
    public const string InvalidState = Prefix + "invalid-state";
    /// <summary>409: the phase does not allow this kind of edit on this artifact (<see cref="EditNotAllowedException"/>).</summary>
    public const string EditNotAllowed = Prefix + "edit-not-allowed";
    /// <summary>409: the run's budget would be exceeded (<see cref="BudgetExceededException"/>).</summary>
    public const string BudgetExceeded = Prefix + "budget-exceeded";
    /// <summary>422: the body or patch is not valid JSON, or not a JSON object (<see cref="InvalidJsonException"/>).</summary>
    public const string InvalidJson = Prefix + "invalid-json";
    /// <summary>422: the patched content fails the phase's validation (<see cref="ArtifactValidationException"/>); <c>errors</c> lists each.</summary>
    public const string ValidationFailed = Prefix + "validation-failed";
    /// <summary>400: an artifact type or key in the path is invalid (<see cref="InvalidArtifactKeyException"/>).</summary>
    public const string InvalidArtifactKey = Prefix + "invalid-artifact-key";
    /// <summary>415: the uploaded bytes are not of a media type the artifact accepts (<see cref="MediaTypeNotAllowedException"/>).</summary>
    public const string UnsupportedMediaType = Prefix + "unsupported-media-type";
    /// <summary>422: the uploaded bytes start like an allowed media type but are not a complete, valid file (<see cref="InvalidContentException"/>).</summary>
    public const string InvalidContent = Prefix + "invalid-content";
    /// <summary>415: the request's <c>Content-Type</c> is not one the endpoint reads (e.g. a merge patch sent as text).</summary>
    public const string UnsupportedContentType = Prefix + "unsupported-content-type";
    /// <summary>413: the upload is larger than the artifact type allows (<see cref="ContentTooLargeException"/>).</summary>
    public const string ContentTooLarge = Prefix + "content-too-large";
    /// <summary>413: the request body is larger than the endpoint accepts.</summary>
    public const string RequestTooLarge = Prefix + "request-too-large";
    /// <summary>502: the generation backend failed (<see cref="GenerationException"/>).</summary>
    public const string GenerationFailed = Prefix + "generation-failed";
    /// <summary>400: another refused input (an argument out of range, a malformed request).</summary>
    public const string BadRequest = Prefix + "bad-request";
    /// <summary>401: the owner resolver found no owner for the caller.</summary>
    public const string OwnerUnknown = Prefix + "owner-unknown";
    /// <summary>400: another SDK error (<see cref="CheckpointingException"/>).</summary>
    public const string CheckpointingError = Prefix + "checkpointing-error";
}
