using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace Checkpointing.Providers.Replicate;

/// <summary>
/// A generation backend on Replicate's HTTP API, registered as <c>replicate</c> by <c>UseReplicate</c>. Creates
/// predictions once (a lost answer is reconciled, never re-sent), waits by polling with backoff or by webhook, cancels
/// on caller cancellation, and reports outputs (files streamed from their URLs, LLM tokens joined) with their cost.
/// </summary>
public sealed class ReplicateBackend : IGenerationBackend, IDisposable
{
    /// <summary>The name the backend is registered under: <c>replicate</c>.</summary>
    public const string BackendName = "replicate";

    /// <summary>The name of the <see cref="HttpClient"/> the backend uses (configure it with <c>AddHttpClient(name)</c>).</summary>
    public const string HttpClientName = "Checkpointing.Providers.Replicate";

    private const int MaxRememberedResults = 1024;
    private readonly ReplicateOptions _options;
    private readonly ReplicateApi _api;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ReplicateWebhookVerifier? _verifier;
    private readonly CancellationTokenSource _disposed = new();
    private readonly ConcurrentDictionary<string, Prediction> _finished = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Waiter> _waiters = new(StringComparer.Ordinal);
    private readonly Lock _waitersLock = new();
    private readonly ConcurrentDictionary<string, string> _created = new(StringComparer.Ordinal); // prediction id -> model
    private readonly ConcurrentDictionary<string, byte> _unpriced = new(StringComparer.OrdinalIgnoreCase);

    internal ReplicateBackend(IHttpClientFactory clients, ReplicateOptions options, ILogger<ReplicateBackend> logger, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(clients);
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = logger;
        _time = time;
        _api = new ReplicateApi(clients, options, logger, time);
        if (!string.IsNullOrWhiteSpace(options.WebhookSecret))
        {
            _verifier = new ReplicateWebhookVerifier(options.WebhookSecret, time, options.WebhookTolerance);
        }
    }

    /// <inheritdoc />
    public string Name => BackendName;

    /// <summary>
    /// Creates a prediction and returns its id. Official models (<c>owner/name</c>) go through the model route, versions
    /// (<c>owner/name:id</c> or a 64-hex id) through <c>/v1/predictions</c>; the aliases <c>text</c>, <c>image</c> and
    /// <c>video</c> resolve to the configured defaults. Models in <see cref="ReplicateOptions.SyncModels"/> are created
    /// with <c>Prefer: wait</c>. <c>Cancel-After</c> carries <see cref="GenerationRequest.Deadline"/> or
    /// <see cref="ReplicateOptions.DefaultDeadline"/>. Only a 429 is retried; a timeout, 5xx or dropped connection is
    /// reconciled by listing recent predictions, so a prediction is never created twice. File inputs
    /// (<see cref="GenerationRequest.Blobs"/>) are sent first, as <c>data:</c> URIs up to
    /// <see cref="ReplicateOptions.InlineFileLimit"/> or through the files API; the first frame goes under the input
    /// the model expects (<see cref="ReplicateModels.VideoModels"/>).
    /// </summary>
    /// <param name="request">The model and input.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The prediction id.</returns>
    /// <exception cref="ArgumentException">The model is not a valid model reference, or a file input names an input the request sets already.</exception>
    /// <exception cref="ReplicateException">Replicate refused the request (see the subclasses).</exception>
    public async Task<string> SubmitAsync(GenerationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        var (model, input) = Resolve(request);
        input = await AddFileInputsAsync(model, input, request.Blobs, cancellationToken).ConfigureAwait(false);
        var sync = _options.SyncWaitSeconds > 0 && _options.SyncModels.Contains(model.Key) ? _options.SyncWaitSeconds : 0;
        var cancelAfter = (request.Deadline ?? _options.DefaultDeadline) is { } deadline ? FormatCancelAfter(deadline) : null;
        var webhook = _options.WebhookUrl is { } hook ? WithCorrelation(hook) : null;
        using var activity = StartActivity("replicate.create", model.Key, predictionId: null);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
        CreateOutcome outcome;
        try
        {
            outcome = await _api.CreateAsync(model, input, cancelAfter, sync, webhook, _created.ContainsKey, linked.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Failed(activity, e);
            throw;
        }

        var prediction = outcome.Prediction;
        _created.TryAdd(prediction.Id, model.Key);
        activity?.SetTag(Telemetry.Tags.PredictionId, prediction.Id);
        activity?.SetTag(GenAiConventions.ResponseId, prediction.Id);
        Telemetry.PredictionsCreated.Add(1, new KeyValuePair<string, object?>(Telemetry.Tags.Model, model.Key));
        _logger.PredictionCreated(prediction.Id, model.Key, prediction.Status, sync);
        if (prediction.IsTerminal)
        {
            RememberFinished(prediction);
        }

        return prediction.Id;
    }

    /// <summary>
    /// Waits for a prediction (created by this or an earlier process) to reach <c>succeeded</c>, <c>failed</c>,
    /// <c>canceled</c> or <c>aborted</c>, polling with backoff (a verified webhook passed to
    /// <see cref="HandleWebhookAsync"/> wakes it at once). Unknown statuses count as running, up to
    /// <see cref="ReplicateOptions.WaitTimeout"/>. Cancelling the token cancels the prediction (best effort).
    /// </summary>
    /// <param name="jobId">The prediction id.</param>
    /// <param name="cancellationToken">Cancels the wait and the prediction.</param>
    /// <returns>The terminal result; read file outputs promptly, Replicate removes them after about an hour.</returns>
    /// <exception cref="ReplicateWaitTimeoutException">The prediction did not finish in time; it keeps running.</exception>
    /// <exception cref="ReplicateException">Replicate refused a request.</exception>
    /// <exception cref="ObjectDisposedException">The backend was disposed during the wait; the prediction keeps running.</exception>
    public async Task<GenerationResult> WaitAsync(string jobId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(jobId);
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        using var activity = StartActivity("replicate.wait", _created.GetValueOrDefault(jobId), jobId);
        activity?.SetTag(Telemetry.Tags.PredictionId, jobId);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
        var waiter = JoinWaiter(jobId);
        try
        {
            var prediction = _finished.TryRemove(jobId, out var done) ? done : await PollAsync(jobId, waiter, linked.Token).ConfigureAwait(false);
            activity?.SetTag(Telemetry.Tags.Status, prediction.Status);
            return ToResult(prediction, activity);
        }
        catch (OperationCanceledException e) when (cancellationToken.IsCancellationRequested)
        {
            Failed(activity, e);
            await CancelOnCallerRequestAsync(jobId).ConfigureAwait(false);
            throw;
        }
        catch (OperationCanceledException e) when (_disposed.IsCancellationRequested)
        {
            _logger.WaitAbandonedOnDispose(jobId);
            var disposed = new ObjectDisposedException($"The Replicate backend was disposed while waiting on prediction '{jobId}'; the prediction keeps running. Wait on it again with a new backend.", e);
            Failed(activity, disposed);
            throw disposed;
        }
        catch (Exception e)
        {
            Failed(activity, e);
            throw;
        }
        finally
        {
            LeaveWaiter(jobId, waiter);
        }
    }

    /// <summary>Cancels a prediction; cancelling a finished one does nothing.</summary>
    /// <param name="jobId">The prediction id.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="ReplicateException">Replicate refused the request.</exception>
    public async Task CancelAsync(string jobId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(jobId);
        await CancelPredictionAsync(jobId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Streams a running prediction's text output (an LLM's tokens) as it is generated, over server-sent events from
    /// <c>urls.stream</c>; when the prediction has no stream or the stream ends early, polling supplies the rest.
    /// </summary>
    /// <param name="predictionId">The prediction id, from <see cref="SubmitAsync"/>.</param>
    /// <param name="cancellationToken">Stops the stream (the prediction keeps running).</param>
    /// <returns>The text chunks in order; joined, they are the prediction's text output.</returns>
    /// <exception cref="ReplicateException">The stream reported an error or the prediction failed.</exception>
    public IAsyncEnumerable<string> StreamTextAsync(string predictionId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(predictionId);
        return StreamCoreAsync(predictionId, cancellationToken);
    }

    /// <summary>
    /// Makes a file usable as a model input (e.g. a storyboard image as a video's first frame): a <c>data:</c> URI when
    /// it is at most <see cref="ReplicateOptions.InlineFileLimit"/> bytes, otherwise an upload to <c>POST /v1/files</c>
    /// whose <c>urls.get</c> is returned.
    /// </summary>
    /// <param name="content">The file's bytes, read to the end and left open.</param>
    /// <param name="mediaType">Its media type, e.g. <c>image/png</c>.</param>
    /// <param name="cancellationToken">Cancels the upload.</param>
    /// <returns>The value to put in the model input.</returns>
    /// <exception cref="ReplicatePayloadTooLargeException">The file is over Replicate's limit.</exception>
    public async Task<string> PrepareFileInputAsync(Stream content, string mediaType, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentException.ThrowIfNullOrWhiteSpace(mediaType);
        var limit = _options.InlineFileLimit;
        var buffer = new byte[limit + 1];
        var read = await content.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (read <= limit)
        {
            return $"data:{mediaType};base64,{Convert.ToBase64String(buffer, 0, read)}";
        }

        var fileName = "input" + OutputNormalizer.ExtensionFor(mediaType);
        if (content.CanSeek)
        {
            content.Seek(-read, SeekOrigin.Current);
            return await _api.UploadFileAsync(content, mediaType, fileName, cancellationToken).ConfigureAwait(false);
        }

        return await _api.UploadFileAsync(new PrefixedStream(buffer.AsMemory(0, read), content), mediaType, fileName, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Handles a webhook delivery from any HTTP endpoint: verifies its signature and time against
    /// <see cref="ReplicateOptions.WebhookSecret"/>, ignores duplicates, and wakes a <see cref="WaitAsync"/> waiting on
    /// the prediction so it reads the result now instead of at its next poll. Answer 2xx when it returns, and 400
    /// when it throws <see cref="ReplicateWebhookSignatureException"/>.
    /// </summary>
    /// <param name="getHeader">Returns a request header by name, e.g. <c>name =&gt; request.Headers[name]</c>.</param>
    /// <param name="body">The raw body bytes, unchanged.</param>
    /// <param name="cancellationToken">Cancels the handling.</param>
    /// <returns>What was done with the delivery.</returns>
    /// <exception cref="ReplicateWebhookSignatureException">The delivery is not authentic or too old.</exception>
    /// <exception cref="InvalidOperationException">No webhook secret is configured.</exception>
    public Task<ReplicateWebhookReceipt> HandleWebhookAsync(Func<string, string?> getHeader, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(getHeader);
        cancellationToken.ThrowIfCancellationRequested();
        var verifier = _verifier ?? throw new InvalidOperationException(
            $"No webhook secret is configured; set ReplicateOptions.WebhookSecret or {ReplicateOptions.WebhookSecretEnvironmentVariable} to verify webhooks.");
        var delivery = verifier.Verify(getHeader, body.Span);
        Prediction prediction;
        try
        {
            prediction = Prediction.Parse(body.Span);
        }
        catch (JsonException e)
        {
            throw new ReplicateException("The webhook delivery is signed correctly but its body is not a prediction.", innerException: e);
        }

        if (delivery.IsDuplicate)
        {
            _logger.WebhookDuplicate(delivery.WebhookId);
            return Task.FromResult(new ReplicateWebhookReceipt(delivery, prediction.Id, prediction.Status, false));
        }

        Waiter? waiter;
        lock (_waitersLock)
        {
            _waiters.TryGetValue(prediction.Id, out waiter);
        }

        waiter?.Wake();
        var woke = waiter is not null;

        _logger.WebhookReceived(delivery.WebhookId, prediction.Id, prediction.Status, woke);
        return Task.FromResult(new ReplicateWebhookReceipt(delivery, prediction.Id, prediction.Status, woke));
    }

    /// <summary>Stops every wait in progress (they throw <see cref="ObjectDisposedException"/>); predictions keep running.</summary>
    public void Dispose()
    {
        if (!_disposed.IsCancellationRequested)
        {
            _disposed.Cancel();
        }
    }

    internal static string FormatCancelAfter(TimeSpan deadline)
    {
        var seconds = Math.Max(5, (long)Math.Ceiling(deadline.TotalSeconds));
        return seconds.ToString(CultureInfo.InvariantCulture) + "s";
    }

    private (ModelRef Model, JsonObject Input) Resolve(GenerationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request.Input);
        if (!ModelRef.TryParse(request.Model, out var model))
        {
            throw new ArgumentException(
                $"'{request.Model}' is not a Replicate model: use 'owner/name', 'owner/name:version', a 64-hex version id, or the alias 'text', 'image' or 'video'.",
                nameof(request));
        }

        if (!model.IsAlias)
        {
            return (model, request.Input);
        }

        var name = model.Alias switch
        {
            ReplicateModels.DefaultText => _options.DefaultTextModel,
            ReplicateModels.DefaultImage => _options.DefaultImageModel,
            _ => _options.DefaultVideoModel,
        };
        ModelRef.TryParse(name, out var resolved);
        var input = model.Alias == ReplicateModels.DefaultVideo ? ReplicateModels.AdaptVideoInput(name, request.Input) : request.Input;
        return (resolved, input);
    }

    /// <summary>
    /// Puts each file input in the model input: <see cref="GenerationBlobInput.FirstFrame"/> under the input the model
    /// takes its first frame in (<see cref="ReplicateModels.VideoModels"/>), any other under its own name; each as a
    /// <c>data:</c> URI or an upload (<see cref="PrepareFileInputAsync"/>).
    /// </summary>
    private async Task<JsonObject> AddFileInputsAsync(ModelRef model, JsonObject input, IReadOnlyDictionary<string, GenerationBlobInput>? files, CancellationToken cancellationToken)
    {
        if (files is not { Count: > 0 })
        {
            return input;
        }

        var withFiles = (JsonObject)input.DeepClone();
        foreach (var (name, file) in files.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            ArgumentNullException.ThrowIfNull(file, nameof(GenerationRequest.Blobs));
            var key = name == GenerationBlobInput.FirstFrame ? ReplicateModels.FirstFrameInputOf(model.Key) : name;
            if (withFiles.ContainsKey(key))
            {
                throw new ArgumentException($"The request sets input '{key}' twice: in its input and as the file input '{name}'. Set it once.", nameof(GenerationRequest));
            }

            var stream = await file.OpenReadAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                withFiles[key] = await PrepareFileInputAsync(stream, file.MediaType, cancellationToken).ConfigureAwait(false);
            }
        }

        return withFiles;
    }

    private Waiter JoinWaiter(string id)
    {
        lock (_waitersLock)
        {
            if (!_waiters.TryGetValue(id, out var waiter))
            {
                _waiters[id] = waiter = new Waiter();
            }

            waiter.Count++;
            return waiter;
        }
    }

    private void LeaveWaiter(string id, Waiter waiter)
    {
        lock (_waitersLock)
        {
            if (--waiter.Count == 0)
            {
                _waiters.Remove(id);
            }
        }
    }

    private static string WithCorrelation(Uri hook)
    {
        var separator = string.IsNullOrEmpty(hook.Query) ? "?" : "&";
        return $"{hook}{separator}corr={Guid.NewGuid():N}";
    }

    private void RememberFinished(Prediction prediction)
    {
        if (_finished.Count >= MaxRememberedResults)
        {
            foreach (var key in _finished.Keys.Take(MaxRememberedResults / 2))
            {
                _finished.TryRemove(key, out _);
            }
        }

        _finished[prediction.Id] = prediction;
    }

    private async Task<Prediction> PollAsync(string id, Waiter waiter, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var interval = _options.PollInterval;
        while (true)
        {
            var wake = waiter.Signal;
            var prediction = await _api.GetAsync(id, cancellationToken).ConfigureAwait(false);
            if (prediction.IsTerminal)
            {
                return prediction;
            }

            if (!PredictionStatus.IsKnown(prediction.Status))
            {
                _logger.UnknownStatus(id, prediction.Status);
            }

            var elapsed = _time.GetElapsedTime(started);
            if (elapsed >= _options.WaitTimeout)
            {
                throw new ReplicateWaitTimeoutException(id, prediction.Status, _options.WaitTimeout);
            }

            var remaining = _options.WaitTimeout - elapsed;
            using (var delayCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                var delay = Task.Delay(interval < remaining ? interval : remaining, _time, delayCts.Token);
                await Task.WhenAny(delay, wake).ConfigureAwait(false);
                await delayCts.CancelAsync().ConfigureAwait(false);
            }

            cancellationToken.ThrowIfCancellationRequested();
            var next = interval * _options.PollBackoffFactor;
            interval = next < _options.MaxPollInterval ? next : _options.MaxPollInterval;
        }
    }

    /// <summary>
    /// Starts a client activity of the package's source with the GenAI attributes every Replicate call carries: the
    /// provider, the model (when known) and the prediction id (when known).
    /// </summary>
    private static Activity? StartActivity(string name, string? model, string? predictionId)
    {
        var activity = Telemetry.Source.StartActivity(name, ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(GenAiConventions.ProviderName, BackendName);
            if (model is not null)
            {
                activity.SetTag(Telemetry.Tags.Model, model);
                activity.SetTag(GenAiConventions.RequestModel, model);
            }

            if (predictionId is not null)
            {
                activity.SetTag(GenAiConventions.ResponseId, predictionId);
            }
        }

        return activity;
    }

    private static void Failed(Activity? activity, Exception exception)
    {
        activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
        activity?.SetTag(GenAiConventions.ErrorType, GenAiConventions.ErrorTypeOf(exception));
    }

    private async Task CancelPredictionAsync(string id, CancellationToken cancellationToken)
    {
        using var activity = StartActivity("replicate.cancel", _created.GetValueOrDefault(id), id);
        activity?.SetTag(Telemetry.Tags.PredictionId, id);
        try
        {
            await _api.CancelAsync(id, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Failed(activity, e);
            throw;
        }
    }

    private GenerationResult ToResult(Prediction prediction, Activity? activity)
    {
        var id = prediction.Id;
        var outputs = OutputNormalizer.Normalize(prediction, (url, ct) => _api.OpenFileAsync(url, id, ct));
        var status = PredictionStatus.ToGenerationStatus(prediction.Status!);
        var key = prediction.Model ?? prediction.Version ?? "";
        decimal cost = 0;
        var priced = _options.Prices.TryGetValue(key, out var price) && price is not null;
        if (priced)
        {
            cost = CostCalculator.Compute(prediction, price!, outputs);
        }
        else if (_unpriced.TryAdd(key, 0))
        {
            _logger.NoPrice(key);
        }

        if (activity is { IsAllDataRequested: true })
        {
            if (activity.GetTagItem(GenAiConventions.RequestModel) is null && key.Length > 0)
            {
                activity.SetTag(Telemetry.Tags.Model, key);
                activity.SetTag(GenAiConventions.RequestModel, key);
            }

            if (key.Length > 0)
            {
                activity.SetTag(GenAiConventions.ResponseModel, key);
            }

            activity.SetTag(GenAiConventions.CostAmount, (double)cost);
            activity.SetTag(GenAiConventions.CostCurrency, GenAiConventions.DefaultCurrency);
            activity.SetTag(GenAiConventions.CostSource, priced ? GenAiConventions.CostFromConfiguredPrice : GenAiConventions.CostUnpriced);
            if (status != GenerationStatus.Succeeded)
            {
                activity.SetStatus(ActivityStatusCode.Error, prediction.ErrorText);
                activity.SetTag(GenAiConventions.ErrorType, prediction.Status);
            }
        }

        var predictTime = prediction.Metric("predict_time");
        var modelTag = new KeyValuePair<string, object?>(Telemetry.Tags.Model, key);
        Telemetry.PredictionsCompleted.Add(1, modelTag, new KeyValuePair<string, object?>(Telemetry.Tags.Status, prediction.Status));
        if (predictTime is { } seconds)
        {
            Telemetry.PredictTime.Record(seconds, modelTag);
        }

        Telemetry.Cost.Add((double)cost, modelTag);
        _logger.PredictionCompleted(id, prediction.Status!, predictTime, cost);
        if (status == GenerationStatus.Succeeded && prediction.DataRemoved && outputs.Count == 0)
        {
            _logger.OutputsRemoved(id);
        }

        string? error = status switch
        {
            GenerationStatus.Failed => prediction.ErrorText ?? "the prediction failed without an error message",
            GenerationStatus.Canceled => prediction.ErrorText ?? "the prediction was canceled (by a user or its Cancel-After deadline)",
            GenerationStatus.Aborted => prediction.ErrorText ?? "the prediction was aborted: its Cancel-After deadline passed before it started",
            _ => null,
        };
        if (status == GenerationStatus.Failed)
        {
            var logs = prediction.Logs is { Length: > 2000 } l ? "…" + l[^2000..] : prediction.Logs;
            _logger.PredictionFailed(id, error, logs);
        }

        return new GenerationResult(id, status, outputs, cost, error);
    }

    private async Task CancelOnCallerRequestAsync(string id)
    {
        _logger.CancellingOnCallerRequest(id);
        try
        {
            using var timeout = new CancellationTokenSource(_options.CancelTimeout, _time);
            await CancelPredictionAsync(id, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _logger.CancelFailed(e, id);
        }
    }

    private async IAsyncEnumerable<string> StreamCoreAsync(string id, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var prediction = await _api.GetAsync(id, cancellationToken).ConfigureAwait(false);
        var sent = 0;
        if (prediction.StreamUrl is { } url && !prediction.IsTerminal)
        {
            using var response = await _api.OpenEventStreamAsync(url, id, cancellationToken).ConfigureAwait(false);
            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                await foreach (var item in SseParser.Create(body).EnumerateAsync(cancellationToken).ConfigureAwait(false))
                {
                    switch (item.EventType)
                    {
                        case "output":
                            sent += item.Data.Length;
                            yield return item.Data;
                            break;
                        case "error":
                            throw new ReplicateException($"The stream of prediction '{id}' reported an error: {ReadDetail(item.Data)}.", detail: ReadDetail(item.Data), predictionId: id);
                        case "done":
                            var reason = ReadReason(item.Data);
                            if (reason is "error" or "canceled")
                            {
                                throw new ReplicateException($"The stream of prediction '{id}' ended: the prediction was {(reason == "error" ? "failed" : "canceled")}.", predictionId: id);
                            }

                            yield break;
                    }
                }
            }

            prediction = await _api.GetAsync(id, cancellationToken).ConfigureAwait(false);
        }

        var interval = _options.PollInterval;
        while (true)
        {
            var text = string.Concat(OutputNormalizer.Normalize(prediction, (_, _) => throw new InvalidOperationException()).OfType<TextOutput>().Select(t => t.Text));
            if (text.Length > sent)
            {
                yield return text[sent..];
                sent = text.Length;
            }

            if (prediction.IsTerminal)
            {
                if (prediction.Status != PredictionStatus.Succeeded)
                {
                    throw new ReplicateException($"Prediction '{id}' ended {prediction.Status}: {prediction.ErrorText ?? "no error given"}.", predictionId: id);
                }

                yield break;
            }

            await Task.Delay(interval, _time, cancellationToken).ConfigureAwait(false);
            var next = interval * _options.PollBackoffFactor;
            interval = next < _options.MaxPollInterval ? next : _options.MaxPollInterval;
            prediction = await _api.GetAsync(id, cancellationToken).ConfigureAwait(false);
        }
    }

    private static string? ReadDetail(string data)
    {
        try
        {
            return JsonNode.Parse(data)?["detail"]?.ToString() ?? data;
        }
        catch (JsonException)
        {
            return data;
        }
    }

    private static string? ReadReason(string data)
    {
        try
        {
            return string.IsNullOrWhiteSpace(data) ? null : JsonNode.Parse(data)?["reason"]?.ToString();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Wakes the waits on one prediction when a webhook reports on it.</summary>
    private sealed class Waiter
    {
        private TaskCompletionSource _signal = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>How many waits share this waiter; guarded by the backend's lock.</summary>
        public int Count { get; set; }

        public Task Signal => Volatile.Read(ref _signal).Task;

        public void Wake() => Interlocked.Exchange(ref _signal, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }
}
