namespace Checkpointing;

/// <summary>The base of every exception the Checkpointing SDK throws on purpose.</summary>
public class CheckpointingException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CheckpointingException() { }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong and what to do.</param>
    public CheckpointingException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    /// <param name="message">What went wrong and what to do.</param>
    /// <param name="innerException">The cause.</param>
    public CheckpointingException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>A run, checkpoint, artifact or blob does not exist.</summary>
public class NotFoundException : CheckpointingException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was not found.</param>
    public NotFoundException(string message) : base(message) { }
}

/// <summary>No run has the given id.</summary>
public sealed class RunNotFoundException(Guid runId)
    : NotFoundException($"Run '{runId}' does not exist. Check the id, or list runs of the owner first.")
{
    /// <summary>The id that was not found.</summary>
    public Guid RunId { get; } = runId;
}

/// <summary>No checkpoint has the given id.</summary>
public sealed class CheckpointNotFoundException(Guid checkpointId)
    : NotFoundException($"Checkpoint '{checkpointId}' does not exist. List the run's checkpoints to find a valid id.")
{
    /// <summary>The id that was not found.</summary>
    public Guid CheckpointId { get; } = checkpointId;
}

/// <summary>The checkpoint holds no artifact of the given type and key.</summary>
public sealed class ArtifactNotFoundException(Guid checkpointId, string type, string key, int? version = null)
    : NotFoundException(version is null
        ? $"Checkpoint '{checkpointId}' holds no artifact '{type}/{key}'. Read the checkpoint's artifacts to see the keys it holds."
        : $"Artifact '{type}/{key}' of checkpoint '{checkpointId}' has no version {version}. Read its history to see the versions.")
{
    /// <summary>The checkpoint that was searched.</summary>
    public Guid CheckpointId { get; } = checkpointId;
    /// <summary>The artifact type asked for.</summary>
    public string Type { get; } = type;
    /// <summary>The artifact key asked for.</summary>
    public string Key { get; } = key;
}

/// <summary>No pipeline is registered under the given name.</summary>
public sealed class PipelineNotFoundException(string name, IEnumerable<string> known)
    : NotFoundException($"No pipeline named '{name}' is registered. Known pipelines: {string.Join(", ", known.Select(k => $"'{k}'"))}. Register it with AddPipeline(\"{name}\", ...).")
{
    /// <summary>The name asked for.</summary>
    public string Name { get; } = name;
}

/// <summary>A blob with the given hash is not in the blob store.</summary>
public sealed class BlobNotFoundException(string hash)
    : NotFoundException($"Blob '{hash}' is not in the blob store. It may have been garbage-collected or never uploaded.")
{
    /// <summary>The hash asked for.</summary>
    public string Hash { get; } = hash;
}

/// <summary>The operation is not valid in the current state (e.g. continuing an abandoned checkpoint).</summary>
public class InvalidStateException : CheckpointingException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What state forbids the operation and what to do.</param>
    public InvalidStateException(string message) : base(message) { }

    /// <summary>Creates the exception with the exception that caused it (e.g. a store driver's constraint violation).</summary>
    /// <param name="message">What state forbids the operation and what to do.</param>
    /// <param name="innerException">The cause.</param>
    public InvalidStateException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>The checkpoint was abandoned; it can no longer be edited or continued.</summary>
public sealed class CheckpointAbandonedException(Guid checkpointId)
    : InvalidStateException($"Checkpoint '{checkpointId}' was abandoned and cannot be edited or continued. Edit or continue another checkpoint of the run.")
{
    /// <summary>The abandoned checkpoint.</summary>
    public Guid CheckpointId { get; } = checkpointId;
}

/// <summary>The checkpoint belongs to the terminal phase, which has no next phase.</summary>
public sealed class TerminalPhaseException(Guid checkpointId, int phase)
    : InvalidStateException($"Checkpoint '{checkpointId}' is at phase {phase}, the pipeline's terminal phase; there is no next phase to continue to.")
{
    /// <summary>The checkpoint.</summary>
    public Guid CheckpointId { get; } = checkpointId;
}

/// <summary>The run is not in a state that allows the operation (e.g. retrying a run that did not fail).</summary>
public sealed class RunStateException(Guid runId, RunStatus status, string operation)
    : InvalidStateException($"Run '{runId}' is {status}; {operation} is not possible in that state.")
{
    /// <summary>The run.</summary>
    public Guid RunId { get; } = runId;
    /// <summary>The run's status when the operation was refused.</summary>
    public RunStatus Status { get; } = status;
}

/// <summary>The phase that produced the artifact does not allow this kind of edit on it.</summary>
public sealed class EditNotAllowedException(Guid checkpointId, int phase, string type, EditKinds kind, EditKinds allowed)
    : CheckpointingException($"Phase {phase} does not allow '{kind}' edits of '{type}' artifacts (checkpoint '{checkpointId}'); allowed: {(allowed == EditKinds.None ? "none" : allowed.ToString())}.")
{
    /// <summary>The checkpoint.</summary>
    public Guid CheckpointId { get; } = checkpointId;
    /// <summary>The edit kind that was refused.</summary>
    public EditKinds Kind { get; } = kind;
}

/// <summary>A unit index is outside the units of the phase.</summary>
public sealed class UnitIndexOutOfRangeException(Guid checkpointId, int unitIndex, int unitCount)
    : CheckpointingException($"Unit {unitIndex} does not exist at checkpoint '{checkpointId}': it has units 1 to {unitCount}.")
{
    /// <summary>The index asked for (1-based).</summary>
    public int UnitIndex { get; } = unitIndex;
    /// <summary>How many units the checkpoint has.</summary>
    public int UnitCount { get; } = unitCount;
}

/// <summary>A JSON document or patch could not be parsed or applied.</summary>
public sealed class InvalidJsonException(string message, Exception? inner = null)
    : CheckpointingException(message, inner);

/// <summary>Content failed the phase's validation (e.g. a spec whose beat durations do not add up).</summary>
public sealed class ArtifactValidationException(string type, IReadOnlyList<string> errors)
    : CheckpointingException($"The '{type}' content is invalid: {string.Join("; ", errors)}.")
{
    /// <summary>The artifact type validated.</summary>
    public string Type { get; } = type;
    /// <summary>Every validation error found.</summary>
    public IReadOnlyList<string> Errors { get; } = errors;
}

/// <summary>Uploaded bytes are of a media type the artifact type does not accept.</summary>
public sealed class MediaTypeNotAllowedException(string type, string? detected, IReadOnlyList<string> allowed)
    : CheckpointingException($"'{type}' artifacts accept {string.Join(", ", allowed)}, but the uploaded content is {(detected is null ? "of an unrecognised type" : detected)} (detected from its bytes, not its name).")
{
    /// <summary>The media type detected from the bytes, or null when not recognised.</summary>
    public string? Detected { get; } = detected;
    /// <summary>The media types accepted.</summary>
    public IReadOnlyList<string> Allowed { get; } = allowed;
}

/// <summary>Uploaded content is larger than the artifact type allows.</summary>
public sealed class ContentTooLargeException(string type, long limit)
    : CheckpointingException($"'{type}' content may be at most {limit} bytes; the upload is larger. Compress or resize it and try again.")
{
    /// <summary>The limit in bytes.</summary>
    public long Limit { get; } = limit;
}

/// <summary>An artifact type or key is empty, too long or contains characters that are not allowed.</summary>
public sealed class InvalidArtifactKeyException(string value, string what)
    : CheckpointingException($"The artifact {what} '{Internal.InputRules.Quote(value)}' is invalid: use 1-128 characters from a-z, A-Z, 0-9, '_', '-' and '.', not starting with '.'.")
{
    /// <summary>The rejected value.</summary>
    public string Value { get; } = value;
}

/// <summary>Optimistic concurrency failed: the artifact changed since the caller read it.</summary>
public class ConcurrencyConflictException : CheckpointingException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What changed and what to do.</param>
    public ConcurrencyConflictException(string message) : base(message) { }

    /// <summary>Creates the exception with the exception that caused it (e.g. a store driver's unique violation).</summary>
    /// <param name="message">What changed and what to do.</param>
    /// <param name="innerException">The cause.</param>
    public ConcurrencyConflictException(string message, Exception? innerException) : base(message, innerException) { }

    /// <summary>Creates the exception for an artifact version mismatch.</summary>
    /// <param name="checkpointId">The checkpoint.</param>
    /// <param name="type">The artifact type.</param>
    /// <param name="key">The artifact key.</param>
    /// <param name="expected">The version the caller saw.</param>
    /// <param name="actual">The current version.</param>
    public static ConcurrencyConflictException ForArtifact(Guid checkpointId, string type, string key, int expected, int actual) =>
        new($"Artifact '{type}/{key}' of checkpoint '{checkpointId}' is at version {actual}, not {expected}: someone else edited it. Read it again and reapply your edit.");
}

/// <summary>
/// An executor's write carried a fencing token that is no longer the run's: its lease expired and another executor
/// claimed the run, or the run was changed outside the lease (cancelled). The write was not applied; the executor must
/// stop working on the run and leave its jobs to the new owner.
/// </summary>
public sealed class LeaseLostException(Guid runId, long token, long currentToken, string? currentOwner)
    : ConcurrencyConflictException(
        $"Run '{runId}' is no longer executed under fencing token {token} (now {currentToken}{(currentOwner is null ? ", no owner" : $", owned by '{currentOwner}'")}): " +
        "the lease expired and another executor took the run over, or the run was cancelled. Nothing was written; stop executing the run.")
{
    /// <summary>The run.</summary>
    public Guid RunId { get; } = runId;

    /// <summary>The writer's fencing token.</summary>
    public long Token { get; } = token;

    /// <summary>The run's fencing token now.</summary>
    public long CurrentToken { get; } = currentToken;
}

/// <summary>Another executor (in this or another process) holds the run's lease and is executing a phase of it.</summary>
public sealed class RunBusyException(Guid runId, string owner, DateTimeOffset expiresAt, int? phase)
    : InvalidStateException(
        $"Run '{runId}' is being executed by '{owner}'{(phase is null ? "" : $" (phase {phase})")}, under a lease that runs until {expiresAt:O} unless renewed. " +
        "Wait for it to pause or finish (watch the run's events or poll its status); if that executor died, retry once its lease has expired.")
{
    /// <summary>The run.</summary>
    public Guid RunId { get; } = runId;

    /// <summary>The executor that holds the lease.</summary>
    public string Owner { get; } = owner;

    /// <summary>When the lease ends unless renewed.</summary>
    public DateTimeOffset ExpiresAt { get; } = expiresAt;
}

/// <summary>The run's budget would be exceeded.</summary>
public sealed class BudgetExceededException(Guid runId, decimal budget, decimal cost, decimal estimate = 0m, string? next = null)
    : CheckpointingException(
        $"Run '{runId}' has spent {cost} of its budget of {budget}; {next ?? "the next step"}{(estimate > 0 ? $" (estimated at {estimate})" : "")} would exceed it. " +
        "Raise the budget with CheckpointRunner.SetBudgetAsync, then retry the run with CheckpointRunner.RetryAsync.")
{
    /// <summary>The estimated cost of the step that was refused (0 when unknown).</summary>
    public decimal Estimate { get; } = estimate;

    /// <summary>The run.</summary>
    public Guid RunId { get; } = runId;
    /// <summary>The budget.</summary>
    public decimal Budget { get; } = budget;
    /// <summary>What was spent.</summary>
    public decimal Cost { get; } = cost;
}

/// <summary>A generation backend reported a failure (a failed, cancelled or aborted job, or a refused request).</summary>
public class GenerationException : CheckpointingException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="jobId">The backend's job id, when one exists.</param>
    /// <param name="isTransient">Whether retrying may succeed.</param>
    /// <param name="innerException">The cause.</param>
    public GenerationException(string message, string? jobId = null, bool isTransient = false, Exception? innerException = null)
        : base(message, innerException)
    {
        JobId = jobId;
        IsTransient = isTransient;
    }

    /// <summary>The backend's job id, when one exists.</summary>
    public string? JobId { get; }

    /// <summary>Whether retrying the operation may succeed.</summary>
    public bool IsTransient { get; }
}

/// <summary>A request field is missing or malformed (e.g. an empty owner id, or a run input that is not JSON).</summary>
public class InvalidInputException : CheckpointingException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="field">The field, e.g. <c>StartRunRequest.OwnerId</c>.</param>
    /// <param name="message">What is wrong and what to do.</param>
    public InvalidInputException(string field, string message)
        : base(message)
    {
        Field = field;
    }

    /// <summary>The field that was refused, e.g. <c>StartRunRequest.OwnerId</c>.</summary>
    public string Field { get; }
}

/// <summary>A text or inline JSON value is longer than its documented limit (see <see cref="CheckpointingOptions"/>).</summary>
public sealed class InputTooLargeException(string field, long limit, long actual, string unit)
    : InvalidInputException(field, $"{field} is {actual} {unit} long; the limit is {limit} {unit}. Shorten it, or raise the limit in CheckpointingOptions (or the artifact spec) if it is meant to be this large.")
{
    /// <summary>The limit that was hit.</summary>
    public long Limit { get; } = limit;
    /// <summary>The value's size.</summary>
    public long Actual { get; } = actual;
}

/// <summary>
/// Text holds a character no store keeps (U+0000, or half of a surrogate pair). Every store refuses it the same way,
/// before anything is paid for.
/// </summary>
public sealed class UnsupportedCharacterException(string field, string character, long position)
    : InvalidInputException(field, $"{field} contains {character} at position {position}, which cannot be stored. Remove that character and try again.")
{
    /// <summary>The character, as <c>U+XXXX</c>.</summary>
    public string Character { get; } = character;
    /// <summary>The 0-based position of the character in the value (for JSON, in its text).</summary>
    public long Position { get; } = position;
}

/// <summary>Uploaded bytes carry an accepted media type's signature but are not a complete, well-formed file of that type.</summary>
public sealed class InvalidContentException(string type, string mediaType, string problem)
    : CheckpointingException($"The upload for '{type}' starts like {mediaType} but is not a complete, valid file: {problem}. Upload the whole file again, or export it again from the editor that made it.")
{
    /// <summary>The media type detected from the signature.</summary>
    public string MediaType { get; } = mediaType;
    /// <summary>What is wrong with the content.</summary>
    public string Problem { get; } = problem;
}
