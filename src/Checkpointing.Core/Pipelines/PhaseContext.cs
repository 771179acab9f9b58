using System.Diagnostics;
using System.Text.Json;
using Checkpointing.Internal;
using Microsoft.Extensions.Logging;

namespace Checkpointing;

/// <summary>
/// What a phase sees while it runs: the run, its place in the checkpoint tree, the artifacts of its lineage (at the
/// exact versions it consumes), the blob store, and crash-safe access to generation backends.
/// </summary>
public class PhaseContext
{
    private readonly PhaseInputs _inputs;
    private int _slot;
    private long _generationCostTicks;

    internal PhaseContext(
        SdkServices sdk,
        Run run,
        PipelineDefinition pipeline,
        int phaseNumber,
        string branch,
        Checkpoint? parent,
        PhaseInputs inputs,
        string executionKey,
        string slotPrefix)
    {
        Sdk = sdk;
        Run = run;
        Pipeline = pipeline;
        PhaseNumber = phaseNumber;
        Branch = branch;
        Parent = parent;
        _inputs = inputs;
        ExecutionKey = executionKey;
        SlotPrefix = slotPrefix;
    }

    internal PhaseInputs InputSet => _inputs;

    internal SdkServices Sdk { get; }

    internal string ExecutionKey { get; }

    internal string SlotPrefix { get; }

    /// <summary>The lease of the executor running the phase, whose token every journal write carries; null for edits.</summary>
    internal ExecutionLease? Lease { get; init; }

    /// <summary>The run.</summary>
    public Run Run { get; }

    /// <summary>The pipeline.</summary>
    public PipelineDefinition Pipeline { get; }

    /// <summary>The phase number being run.</summary>
    public int PhaseNumber { get; }

    /// <summary>The phase being run.</summary>
    public Phase Phase => Pipeline.GetPhase(PhaseNumber);

    /// <summary>The branch the phase runs on.</summary>
    public string Branch { get; }

    /// <summary>The checkpoint the phase continues from, or null for phase 1.</summary>
    public Checkpoint? Parent { get; }

    /// <summary>
    /// The revision of <see cref="Parent"/> this phase consumes (see <see cref="Checkpoint.Revision"/>): its artifacts as
    /// they stood then, whatever was edited since. Null for phase 1.
    /// </summary>
    public long? ParentRevision => _inputs.ParentRevision;

    /// <summary>
    /// Lists the artifact versions of the lineage this phase consumes, lowest phase first. They are read from the store
    /// when first asked for, once per phase execution.
    /// </summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    public async Task<IReadOnlyList<ArtifactPin>> GetInputsAsync(CancellationToken cancellationToken = default) =>
        (await _inputs.GetAsync(cancellationToken).ConfigureAwait(false)).All;

    /// <summary>The blob store, for reading inputs and writing outputs.</summary>
    public IBlobStore Blobs => Sdk.Blobs;

    /// <summary>The application's services.</summary>
    public IServiceProvider Services => Sdk.Services;

    /// <summary>A logger for the phase.</summary>
    public ILogger Logger => Sdk.PhaseLogger;

    /// <summary>The clock.</summary>
    public TimeProvider Time => Sdk.Time;

    /// <summary>What calls to <see cref="GenerateAsync"/> have cost so far in this context (counted automatically).</summary>
    public decimal GenerationCost => Interlocked.Read(ref _generationCostTicks) / 1_000_000m;

    /// <summary>Finds the pinned input of a type and key (the one of the highest phase that holds it), or null.</summary>
    /// <param name="type">The artifact type.</param>
    /// <param name="key">The artifact key.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    public async Task<ArtifactPin?> FindInputAsync(string type, string key, CancellationToken cancellationToken = default) =>
        (await _inputs.GetAsync(cancellationToken).ConfigureAwait(false)).ByKey.GetValueOrDefault((type, key));

    /// <summary>Reads an input artifact at the version this phase consumes.</summary>
    /// <param name="type">The artifact type.</param>
    /// <param name="key">The artifact key.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <exception cref="ArtifactNotFoundException">No checkpoint of the lineage holds the artifact.</exception>
    public async Task<ArtifactVersion> GetInputAsync(string type, string key, CancellationToken cancellationToken = default)
    {
        var pin = await FindInputAsync(type, key, cancellationToken).ConfigureAwait(false) ?? throw new ArtifactNotFoundException(Parent?.Id ?? Guid.Empty, type, key);
        return await Sdk.Store.GetArtifactVersionAsync(pin.ArtifactId, pin.Version, cancellationToken).ConfigureAwait(false)
            ?? throw new ArtifactNotFoundException(pin.CheckpointId, type, key, pin.Version);
    }

    /// <summary>Reads the version of an input that <paramref name="pin"/> names (one of <see cref="GetInputsAsync"/>).</summary>
    /// <param name="pin">A pin from <see cref="GetInputsAsync"/>, <see cref="GetInputPinsAsync"/> or <see cref="FindInputAsync"/>.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <exception cref="ArtifactNotFoundException">The pin is not one this phase consumes.</exception>
    public async Task<ArtifactVersion> ReadAsync(ArtifactPin pin, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pin);
        if (!(await _inputs.GetAsync(cancellationToken).ConfigureAwait(false)).Set.Contains(pin))
        {
            throw new ArtifactNotFoundException(pin.CheckpointId, pin.Type, pin.Key, pin.Version);
        }

        return await Sdk.Store.GetArtifactVersionAsync(pin.ArtifactId, pin.Version, cancellationToken).ConfigureAwait(false)
            ?? throw new ArtifactNotFoundException(pin.CheckpointId, pin.Type, pin.Key, pin.Version);
    }

    /// <summary>Reads an inline JSON input named by its pin and deserializes it.</summary>
    /// <typeparam name="T">The type to deserialize to.</typeparam>
    /// <param name="pin">A pin from <see cref="GetInputsAsync"/>.</param>
    /// <param name="options">Serializer options; default: web defaults.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    public async Task<T> ReadJsonAsync<T>(ArtifactPin pin, JsonSerializerOptions? options = null, CancellationToken cancellationToken = default)
    {
        var version = await ReadAsync(pin, cancellationToken).ConfigureAwait(false);
        if (version.Content.Json is not { } json)
        {
            throw new InvalidStateException($"Artifact '{pin.Type}/{pin.Key}' holds a blob, not inline JSON.");
        }

        return json.Deserialize<T>(options ?? JsonSerializerOptions.Web)
            ?? throw new InvalidJsonException($"Artifact '{pin.Type}/{pin.Key}' holds JSON null.");
    }

    /// <summary>Opens the bytes of a blob input named by its pin.</summary>
    /// <param name="pin">A pin from <see cref="GetInputsAsync"/>.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    public async Task<(Stream Content, BlobReference Blob)> OpenAsync(ArtifactPin pin, CancellationToken cancellationToken = default)
    {
        var version = await ReadAsync(pin, cancellationToken).ConfigureAwait(false);
        var blob = version.Content.Blob ?? throw new InvalidStateException($"Artifact '{pin.Type}/{pin.Key}' holds inline JSON, not a blob.");
        return (await Sdk.Blobs.OpenReadAsync(blob.Hash, cancellationToken).ConfigureAwait(false), blob);
    }

    /// <summary>Lists the pinned inputs of one artifact type in force (one per key), in the order their checkpoint lists them.</summary>
    /// <param name="type">The artifact type.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    public async Task<IReadOnlyList<ArtifactPin>> GetInputPinsAsync(string type, CancellationToken cancellationToken = default)
    {
        var inputs = await _inputs.GetAsync(cancellationToken).ConfigureAwait(false);
        return inputs.All.Where(p => p.Type == type && inputs.IsInForce(p)).ToList();
    }

    /// <summary>Reads an inline JSON input and deserializes it.</summary>
    /// <typeparam name="T">The type to deserialize to.</typeparam>
    /// <param name="type">The artifact type.</param>
    /// <param name="key">The artifact key.</param>
    /// <param name="options">Serializer options; default: web defaults.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    public async Task<T> ReadJsonInputAsync<T>(string type, string key, JsonSerializerOptions? options = null, CancellationToken cancellationToken = default)
    {
        var version = await GetInputAsync(type, key, cancellationToken).ConfigureAwait(false);
        if (version.Content.Json is not { } json)
        {
            throw new InvalidStateException($"Artifact '{type}/{key}' holds a blob, not inline JSON.");
        }

        return json.Deserialize<T>(options ?? JsonSerializerOptions.Web)
            ?? throw new InvalidJsonException($"Artifact '{type}/{key}' holds JSON null.");
    }

    /// <summary>Opens the bytes of a blob input at the version this phase consumes.</summary>
    /// <param name="type">The artifact type.</param>
    /// <param name="key">The artifact key.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    public async Task<(Stream Content, BlobReference Blob)> OpenInputAsync(string type, string key, CancellationToken cancellationToken = default)
    {
        var version = await GetInputAsync(type, key, cancellationToken).ConfigureAwait(false);
        var blob = version.Content.Blob ?? throw new InvalidStateException($"Artifact '{type}/{key}' holds inline JSON, not a blob.");
        return (await Sdk.Blobs.OpenReadAsync(blob.Hash, cancellationToken).ConfigureAwait(false), blob);
    }

    /// <summary>Stores bytes in the blob store, detecting the media type from the bytes when not given.</summary>
    /// <param name="content">The bytes.</param>
    /// <param name="mediaType">The media type, or null to detect it.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    public Task<BlobReference> PutBlobAsync(Stream content, string? mediaType = null, CancellationToken cancellationToken = default) =>
        ContentInspector.PutDetectedAsync(Sdk.Blobs, content, mediaType, long.MaxValue, null, cancellationToken);

    /// <summary>
    /// Runs a model on a backend, crash-safely: the job id is recorded before it is awaited, so a retried or restarted
    /// phase waits on the same job instead of paying for a new one. File outputs are streamed into the blob store at
    /// once. The cost is added to <see cref="GenerationCost"/> and so to the unit's or phase's cost.
    /// </summary>
    /// <param name="backend">The backend.</param>
    /// <param name="request">The model and input.</param>
    /// <param name="cancellationToken">
    /// Stops waiting. The job keeps running on the backend and a resumed phase re-attaches to it; only cancelling the run
    /// (<see cref="CheckpointRunner.CancelAsync"/>) cancels its jobs.
    /// </param>
    /// <returns>The stored outputs.</returns>
    /// <exception cref="GenerationException">The job failed, was cancelled or aborted.</exception>
    public async Task<GenerationOutcome> GenerateAsync(IGenerationBackend backend, GenerationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(request);
        var provider = backend.Name;
        using var activity = Telemetry.Source.StartActivity(GenAiConventions.SpanName(GenAiConventions.GenerateContent, request.Model), ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(GenAiConventions.OperationName, GenAiConventions.GenerateContent);
            activity.SetTag(GenAiConventions.ProviderName, provider);
            activity.SetTag(GenAiConventions.RequestModel, request.Model);
        }

        var started = Sdk.Time.GetTimestamp();
        string? errorType = null;
        try
        {
            var result = await RunJobAsync(backend, request, cancellationToken).ConfigureAwait(false);
            activity?.SetTag(GenAiConventions.ResponseId, result.JobId);
            if (result.Status != GenerationStatus.Succeeded)
            {
                RecordCost(activity, provider, request.Model, result);
                errorType = result.Status.ToString().ToLowerInvariant();
                throw new GenerationException(
                    $"Model '{request.Model}' on '{backend.Name}' ended {result.Status}: {result.Error ?? "no error given"}.",
                    result.JobId);
            }

            var files = new List<BlobReference>();
            foreach (var file in result.Outputs.OfType<FileOutput>())
            {
                var stream = await file.OpenReadAsync(cancellationToken).ConfigureAwait(false);
                await using (stream.ConfigureAwait(false))
                {
                    files.Add(await ContentInspector.PutDetectedAsync(Sdk.Blobs, stream, null, long.MaxValue, file.MediaType, cancellationToken).ConfigureAwait(false));
                }
            }

            RecordCost(activity, provider, request.Model, result);
            return new GenerationOutcome(result.JobId, request.Model, result.Text, files, result.Cost, result);
        }
        catch (Exception e)
        {
            errorType ??= GenAiConventions.ErrorTypeOf(e);
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            activity?.SetTag(GenAiConventions.ErrorType, errorType);
            throw;
        }
        finally
        {
            var tags = new TagList
            {
                { GenAiConventions.OperationName, GenAiConventions.GenerateContent },
                { GenAiConventions.ProviderName, provider },
                { GenAiConventions.RequestModel, request.Model },
            };
            if (errorType is not null)
            {
                tags.Add(GenAiConventions.ErrorType, errorType);
            }

            Telemetry.GenerationDuration.Record(Sdk.Time.GetElapsedTime(started).TotalSeconds, tags);
        }
    }

    /// <summary>Re-attaches to the job of this slot when an earlier attempt recorded one, else submits; then waits.</summary>
    private async Task<GenerationResult> RunJobAsync(IGenerationBackend backend, GenerationRequest request, CancellationToken cancellationToken)
    {
        var slot = $"{SlotPrefix}/{Interlocked.Increment(ref _slot)}";
        var jobId = await Sdk.Store.GetJobAsync(Run.Id, ExecutionKey, slot, cancellationToken).ConfigureAwait(false);
        if (jobId is null)
        {
            return await SubmitAndWaitAsync(backend, request, slot, cancellationToken).ConfigureAwait(false);
        }

        Sdk.Log.ReattachingJob(backend.Name, jobId, Run.Id, slot);
        var result = await WaitAsync(backend, jobId, cancellationToken).ConfigureAwait(false);
        if (result.Status != GenerationStatus.Succeeded)
        {
            // The earlier attempt's job ended badly; this attempt pays for a fresh one.
            result = await SubmitAndWaitAsync(backend, request, slot, cancellationToken).ConfigureAwait(false);
        }

        return result;
    }

    /// <summary>Adds a finished job's cost to this context, its span and the cost counter (a failed job may cost too).</summary>
    private void RecordCost(Activity? activity, string provider, string model, GenerationResult result)
    {
        AddCost(result.Cost);
        var currency = result.CostCurrency ?? GenAiConventions.DefaultCurrency;
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(GenAiConventions.CostAmount, (double)result.Cost);
            activity.SetTag(GenAiConventions.CostCurrency, currency);
        }

        Telemetry.GenerationCost.Add(
            (double)result.Cost,
            new KeyValuePair<string, object?>(GenAiConventions.OperationName, GenAiConventions.GenerateContent),
            new KeyValuePair<string, object?>(GenAiConventions.ProviderName, provider),
            new KeyValuePair<string, object?>(GenAiConventions.RequestModel, model),
            new KeyValuePair<string, object?>(GenAiConventions.CostCurrency, currency));
    }

    private async Task<GenerationResult> SubmitAndWaitAsync(IGenerationBackend backend, GenerationRequest request, string slot, CancellationToken cancellationToken)
    {
        var jobId = await backend.SubmitAsync(request, cancellationToken).ConfigureAwait(false);
        try
        {
            await Sdk.Store.SaveJobAsync(Run.Id, ExecutionKey, slot, jobId, Lease?.Token, CancellationToken.None).ConfigureAwait(false);
        }
        catch (LeaseLostException)
        {
            // Another executor owns the run now and cannot know this job: stop paying for it.
            await Lease!.MarkLostAsync().ConfigureAwait(false);
            await CancelJobAsync(backend, jobId).ConfigureAwait(false);
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The store could not record the job (a full disk, a lost database): nobody could re-attach to it later, so
            // a retry would pay for it again. Cancel it now, while it has barely started.
            await CancelJobAsync(backend, jobId).ConfigureAwait(false);
            throw;
        }

        Sdk.Log.JobSubmitted(backend.Name, jobId, request.Model, Run.Id, slot);
        return await WaitAsync(backend, jobId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Waits for a job. Stopping the wait leaves the job running (a later attempt re-attaches to it by its recorded id),
    /// unless the run was cancelled: then the job is cancelled on the backend.
    /// </summary>
    private async Task<GenerationResult> WaitAsync(IGenerationBackend backend, string jobId, CancellationToken cancellationToken)
    {
        try
        {
            return await backend.WaitAsync(jobId, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && Lease is { CancelJobs: true })
        {
            await CancelJobAsync(backend, jobId).ConfigureAwait(false);
            throw;
        }
    }

    private async Task CancelJobAsync(IGenerationBackend backend, string jobId)
    {
        try
        {
            Sdk.Log.CancellingJob(backend.Name, jobId, Run.Id);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await backend.CancelAsync(jobId, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Sdk.Log.CancelJobFailed(e, backend.Name, jobId);
        }
    }

    private void AddCost(decimal cost) => Interlocked.Add(ref _generationCostTicks, (long)(cost * 1_000_000m));
}

/// <summary>What a unit of a unit-based phase sees: the phase context plus its index and the caller's overrides.</summary>
public sealed class UnitContext : PhaseContext
{
    internal UnitContext(
        SdkServices sdk,
        Run run,
        PipelineDefinition pipeline,
        int phaseNumber,
        string branch,
        Checkpoint? parent,
        PhaseInputs inputs,
        string executionKey,
        int unitIndex,
        int unitCount,
        UnitOverrides overrides)
        : base(sdk, run, pipeline, phaseNumber, branch, parent, inputs, executionKey, $"unit-{unitIndex}")
    {
        UnitIndex = unitIndex;
        UnitCount = unitCount;
        Overrides = overrides;
    }

    /// <summary>The 1-based index of the unit.</summary>
    public int UnitIndex { get; }

    /// <summary>How many units the phase has.</summary>
    public int UnitCount { get; }

    /// <summary>The caller's overrides (set when regenerating a unit).</summary>
    public UnitOverrides Overrides { get; }
}

/// <summary>The stored result of <see cref="PhaseContext.GenerateAsync"/>.</summary>
/// <param name="JobId">The backend's job id.</param>
/// <param name="Model">The model that ran.</param>
/// <param name="Text">Text outputs joined.</param>
/// <param name="Files">File outputs, already in the blob store.</param>
/// <param name="Cost">What the job cost.</param>
/// <param name="Result">The backend's raw result.</param>
public sealed record GenerationOutcome(string JobId, string Model, string Text, IReadOnlyList<BlobReference> Files, decimal Cost, GenerationResult Result);
