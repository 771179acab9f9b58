using System.Text.Json.Nodes;

namespace Checkpointing.Generation;

/// <summary>
/// A generation backend (an AI provider): runs model M with input I as an external job that can be submitted,
/// awaited, cancelled, and re-attached to by id after a restart.
/// </summary>
/// <remarks>
/// Phases do not call backends directly: they call <see cref="PhaseContext.GenerateAsync"/>, which records the job id
/// returned by <see cref="SubmitAsync"/> in the store before calling <see cref="WaitAsync"/>, so a restarted runner
/// waits on the same job instead of paying for a new one.
/// </remarks>
public interface IGenerationBackend
{
    /// <summary>The backend's name, e.g. <c>replicate</c>; used in logs, metadata and DI keys.</summary>
    string Name { get; }

    /// <summary>Starts a job and returns its external id without waiting for it to finish.</summary>
    /// <param name="request">The model and input.</param>
    /// <param name="cancellationToken">Cancels the submission.</param>
    /// <returns>The backend's job id.</returns>
    /// <exception cref="GenerationException">The backend refused the request.</exception>
    Task<string> SubmitAsync(GenerationRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Waits for a job (submitted by this or an earlier process) to reach a terminal state. Cancelling the token
    /// cancels the job on the backend (best effort) before the method throws <see cref="OperationCanceledException"/>.
    /// </summary>
    /// <param name="jobId">The job id returned by <see cref="SubmitAsync"/>.</param>
    /// <param name="cancellationToken">Cancels the wait and the job.</param>
    /// <returns>The terminal result; file outputs must be read promptly as backends may expire them.</returns>
    Task<GenerationResult> WaitAsync(string jobId, CancellationToken cancellationToken = default);

    /// <summary>Cancels a job; cancelling a finished job does nothing.</summary>
    /// <param name="jobId">The job id.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    Task CancelAsync(string jobId, CancellationToken cancellationToken = default);
}

/// <summary>What to generate.</summary>
/// <param name="Model">The model, e.g. <c>black-forest-labs/flux-dev</c>.</param>
/// <param name="Input">The model's input as JSON.</param>
public sealed record GenerationRequest(string Model, JsonObject Input)
{
    /// <summary>How long the job may run before the backend abandons it, or null for the backend's default.</summary>
    public TimeSpan? Deadline { get; init; }

    /// <summary>
    /// File inputs by name, e.g. <see cref="GenerationBlobInput.FirstFrame"/>: each backend sends them its own way (a
    /// <c>data:</c> URI, an upload, a blob-store read) and under the input name its model expects. Empty by default.
    /// </summary>
    public IReadOnlyDictionary<string, GenerationBlobInput> Blobs { get; init; } = new Dictionary<string, GenerationBlobInput>(StringComparer.Ordinal);
}

/// <summary>
/// A file input of a <see cref="GenerationRequest"/>: a blob of the pipeline's blob store, or any stream. Backends
/// open it when they submit the job (or, for blobs, read the store later by <see cref="Blob"/>).
/// </summary>
public sealed record GenerationBlobInput
{
    /// <summary>The name of a video model's first frame (the image the clip starts from): <c>first_frame</c>.</summary>
    public const string FirstFrame = "first_frame";

    /// <summary>A blob of <paramref name="store"/> (e.g. <see cref="PhaseContext.Blobs"/>), e.g. a storyboard image.</summary>
    /// <param name="blob">The blob.</param>
    /// <param name="store">The store that holds it.</param>
    public GenerationBlobInput(BlobReference blob, IBlobStore store)
    {
        ArgumentNullException.ThrowIfNull(blob);
        ArgumentNullException.ThrowIfNull(store);
        Blob = blob;
        MediaType = blob.MediaType;
        Size = blob.Size;
        OpenReadAsync = ct => store.OpenReadAsync(blob.Hash, ct);
    }

    /// <summary>A file that is not in the blob store.</summary>
    /// <param name="mediaType">Its media type, e.g. <c>image/png</c>.</param>
    /// <param name="openReadAsync">Opens its bytes; may be called more than once.</param>
    /// <param name="size">Its size in bytes, when known.</param>
    public GenerationBlobInput(string mediaType, Func<CancellationToken, Task<Stream>> openReadAsync, long? size = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(mediaType);
        ArgumentNullException.ThrowIfNull(openReadAsync);
        MediaType = mediaType;
        OpenReadAsync = openReadAsync;
        Size = size;
    }

    /// <summary>The blob, when the input is one of the blob store's; backends that share the store may read it there later.</summary>
    public BlobReference? Blob { get; }

    /// <summary>The media type, e.g. <c>image/png</c>.</summary>
    public string MediaType { get; }

    /// <summary>The size in bytes, when known.</summary>
    public long? Size { get; }

    /// <summary>Opens the bytes.</summary>
    public Func<CancellationToken, Task<Stream>> OpenReadAsync { get; }
}

/// <summary>The terminal state of a generation job.</summary>
public enum GenerationStatus
{
    /// <summary>The job produced its outputs.</summary>
    Succeeded,
    /// <summary>The job failed; see <see cref="GenerationResult.Error"/>.</summary>
    Failed,
    /// <summary>The job was cancelled while running.</summary>
    Canceled,
    /// <summary>The job was abandoned before it started (e.g. its deadline passed).</summary>
    Aborted,
}

/// <summary>The result of a finished job.</summary>
/// <param name="JobId">The backend's job id.</param>
/// <param name="Status">The terminal status.</param>
/// <param name="Outputs">The outputs, in order (text and files).</param>
/// <param name="Cost">What the job cost.</param>
/// <param name="Error">The error, when the job did not succeed.</param>
public sealed record GenerationResult(string JobId, GenerationStatus Status, IReadOnlyList<GenerationOutput> Outputs, decimal Cost, string? Error = null)
{
    /// <summary>The ISO 4217 currency of <see cref="Cost"/>, e.g. <c>EUR</c>.</summary>
    /// <value>Default: null, meaning the SDK's default currency, <c>USD</c>.</value>
    /// <remarks>Recorded as <c>gen_ai.usage.cost.currency</c> on the generation span and the cost counter.</remarks>
    public string? CostCurrency { get; init; }

    /// <summary>Text outputs joined (e.g. an LLM's tokens).</summary>
    public string Text => string.Concat(Outputs.OfType<TextOutput>().Select(t => t.Text));
}

/// <summary>One output of a generation job.</summary>
public abstract record GenerationOutput;

/// <summary>A text output.</summary>
/// <param name="Text">The text.</param>
public sealed record TextOutput(string Text) : GenerationOutput;

/// <summary>A file output that can be streamed once or more until the backend expires it.</summary>
/// <param name="Source">Where the file comes from (for logs and metadata).</param>
/// <param name="MediaType">The media type the backend reported, if any; the SDK checks the bytes itself.</param>
/// <param name="OpenReadAsync">Opens the file's bytes.</param>
public sealed record FileOutput(Uri Source, string? MediaType, Func<CancellationToken, Task<Stream>> OpenReadAsync) : GenerationOutput;
