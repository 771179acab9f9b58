using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace Checkpointing.Providers.Replicate;

/// <summary>How a request may be retried.</summary>
internal enum RetryMode
{
    /// <summary>Never retried.</summary>
    None,
    /// <summary>Retried only on 429, when the server refused before doing anything (creates, uploads).</summary>
    OnlyThrottled,
    /// <summary>Retried on 429, 5xx, timeouts and network errors (GETs and cancels).</summary>
    Idempotent,
}

/// <summary>The outcome of a create whose answer may have been lost.</summary>
internal sealed record CreateOutcome(Prediction Prediction, bool Reconciled);

/// <summary>The HTTP layer over Replicate's API: requests, retries, error mapping.</summary>
internal sealed partial class ReplicateApi
{
    private static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(2);
    private static readonly ResiliencePropertyKey<string> OperationKey = new("replicate.operation");
    private readonly IHttpClientFactory _clients;
    private readonly ReplicateOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ResiliencePipeline<HttpResponseMessage> _throttledOnly;
    private readonly ResiliencePipeline<HttpResponseMessage> _idempotent;
    private readonly Uri _baseUrl;

    public ReplicateApi(IHttpClientFactory clients, ReplicateOptions options, ILogger logger, TimeProvider time)
    {
        _clients = clients;
        _options = options;
        _logger = logger;
        _time = time;
        var baseText = options.BaseUrl.ToString();
        _baseUrl = new Uri(baseText.EndsWith('/') ? baseText : baseText + "/");
        _throttledOnly = BuildPipeline(idempotent: false);
        _idempotent = BuildPipeline(idempotent: true);
    }

    public Uri BaseUrl => _baseUrl;

    private HttpClient Client => _clients.CreateClient(ReplicateBackend.HttpClientName);

    // ---- predictions ----

    public async Task<CreateOutcome> CreateAsync(ModelRef model, JsonObject input, string? cancelAfter, int syncWaitSeconds, string? webhook, Func<string, bool> isKnown, CancellationToken cancellationToken)
    {
        var body = new JsonObject { ["input"] = input.DeepClone() };
        string path;
        if (model.IsOfficial)
        {
            path = $"models/{Uri.EscapeDataString(model.Owner!)}/{Uri.EscapeDataString(model.Name!)}/predictions";
        }
        else
        {
            path = "predictions";
            body["version"] = model.Owner is null ? model.Version : $"{model.Owner}/{model.Name}:{model.Version}";
        }

        if (webhook is not null)
        {
            body["webhook"] = webhook;
            body["webhook_events_filter"] = new JsonArray("completed");
        }

        var json = body.ToJsonString();
        var timeout = _options.RequestTimeout + TimeSpan.FromSeconds(syncWaitSeconds);
        var sentAt = _time.GetUtcNow();
        HttpResponseMessage response;
        try
        {
            response = await SendAsync(
                "create",
                () =>
                {
                    var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_baseUrl, path))
                    {
                        Content = new StringContent(json, Encoding.UTF8, "application/json"),
                    };
                    if (syncWaitSeconds > 0)
                    {
                        request.Headers.TryAddWithoutValidation("Prefer", $"wait={syncWaitSeconds.ToString(CultureInfo.InvariantCulture)}");
                    }

                    if (cancelAfter is not null)
                    {
                        request.Headers.TryAddWithoutValidation("Cancel-After", cancelAfter);
                    }

                    return request;
                },
                RetryMode.OnlyThrottled,
                timeout,
                cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await CancelOrphanAsync(model, input, webhook, sentAt, isKnown).ConfigureAwait(false);
            throw;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is HttpRequestException or TimeoutException or IOException)
        {
            var found = await ReconcileAsync(model, input, webhook, sentAt, isKnown, e.Message, e, cancellationToken).ConfigureAwait(false);
            return new CreateOutcome(found, true);
        }

        using (response)
        {
            if ((int)response.StatusCode >= 500)
            {
                var reason = $"{(int)response.StatusCode} {response.ReasonPhrase}";
                var serverError = await ToExceptionAsync(response, "create", model.Key, null).ConfigureAwait(false);
                var found = await ReconcileAsync(model, input, webhook, sentAt, isKnown, reason, serverError, cancellationToken).ConfigureAwait(false);
                return new CreateOutcome(found, true);
            }

            if (!response.IsSuccessStatusCode)
            {
                throw await ToExceptionAsync(response, $"model '{model.Key}'", model.Key, null).ConfigureAwait(false);
            }

            return new CreateOutcome(await ReadPredictionAsync(response, cancellationToken).ConfigureAwait(false), false);
        }
    }

    public async Task<Prediction> GetAsync(string id, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(
            "get",
            () => new HttpRequestMessage(HttpMethod.Get, PredictionUri(id)),
            RetryMode.Idempotent,
            _options.RequestTimeout,
            cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await ToExceptionAsync(response, $"prediction '{id}'", null, id).ConfigureAwait(false);
        }

        return await ReadPredictionAsync(response, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Prediction> CancelAsync(string id, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(
            "cancel",
            () => new HttpRequestMessage(HttpMethod.Post, new Uri(PredictionUri(id) + "/cancel")),
            RetryMode.Idempotent,
            _options.RequestTimeout,
            cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await ToExceptionAsync(response, $"prediction '{id}'", null, id).ConfigureAwait(false);
        }

        return await ReadPredictionAsync(response, cancellationToken).ConfigureAwait(false);
    }

    public async IAsyncEnumerable<Prediction> ListAsync(DateTimeOffset createdAfter, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var after = Uri.EscapeDataString(createdAfter.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
        Uri? next = new(_baseUrl, $"predictions?created_after={after}");
        for (var page = 0; next is not null && page < 20; page++)
        {
            var current = next;
            using var response = await SendAsync(
                "list",
                () => new HttpRequestMessage(HttpMethod.Get, current),
                RetryMode.Idempotent,
                _options.RequestTimeout,
                cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw await ToExceptionAsync(response, "prediction list", null, null).ConfigureAwait(false);
            }

            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            var parsed = JsonSerializer.Deserialize<PredictionPage>(bytes, Prediction.Json) ?? new PredictionPage();
            foreach (var prediction in parsed.Results)
            {
                yield return prediction;
            }

            next = parsed.Next is { Length: > 0 } n && Uri.TryCreate(n, UriKind.Absolute, out var u) ? u : null;
        }
    }

    private async Task<Prediction> ReconcileAsync(ModelRef model, JsonObject input, string? webhook, DateTimeOffset sentAt, Func<string, bool> isKnown, string reason, Exception cause, CancellationToken cancellationToken)
    {
        _logger.Reconciling(model.Key, reason);
        for (var attempt = 0; attempt < 3; attempt++)
        {
            if (attempt > 0)
            {
                await Task.Delay(_options.RetryBaseDelay * Math.Pow(2, attempt - 1), _time, cancellationToken).ConfigureAwait(false);
            }

            if (await FindCreatedAsync(model, input, webhook, sentAt - _options.ReconcileSlack, sentAt, isKnown, cancellationToken).ConfigureAwait(false) is { } match)
            {
                Telemetry.Reconciliations.Add(1, new KeyValuePair<string, object?>(Telemetry.Tags.Found, true));
                _logger.Reconciled(model.Key, match.Id);
                return match;
            }
        }

        Telemetry.Reconciliations.Add(1, new KeyValuePair<string, object?>(Telemetry.Tags.Found, false));
        var status = (cause as ReplicateException)?.StatusCode;
        throw new ReplicateServerException(
            $"The create request for model '{model.Key}' failed ({reason}) and Replicate lists no prediction made by it, so none was created. Retry the request later.",
            status, (cause as ReplicateException)?.Detail, null, cause);
    }

    /// <summary>Finds the prediction a create sent at <paramref name="sentAt"/> made: same model, input and webhook.</summary>
    private async Task<Prediction?> FindCreatedAsync(ModelRef model, JsonObject input, string? webhook, DateTimeOffset since, DateTimeOffset sentAt, Func<string, bool> isKnown, CancellationToken cancellationToken)
    {
        var matches = new List<Prediction>();
        await foreach (var candidate in ListAsync(since, cancellationToken).ConfigureAwait(false))
        {
            if (isKnown(candidate.Id) || (candidate.CreatedAt is { } created && created < since))
            {
                continue;
            }

            var sameModel = model.Owner is not null
                ? string.Equals(candidate.Model, model.Key, StringComparison.OrdinalIgnoreCase)
                  && (model.Version is null || string.Equals(candidate.Version, model.Version, StringComparison.OrdinalIgnoreCase))
                : string.Equals(candidate.Version, model.Version, StringComparison.OrdinalIgnoreCase);
            var sameHook = webhook is null || candidate.Webhook is null || candidate.Webhook == webhook;
            if (sameModel && sameHook && JsonNode.DeepEquals(candidate.Input, input))
            {
                matches.Add(candidate);
            }
        }

        // Ours is the first match made after the request was sent (allowing for clock skew); else the newest.
        return matches
            .Where(p => p.CreatedAt is { } c && c >= sentAt - ClockSkew)
            .OrderBy(p => p.CreatedAt)
            .FirstOrDefault() ?? matches.OrderByDescending(p => p.CreatedAt).FirstOrDefault();
    }

    /// <summary>After the caller cancelled a create that was sent, cancels the prediction it may have made (best effort).</summary>
    private async Task CancelOrphanAsync(ModelRef model, JsonObject input, string? webhook, DateTimeOffset sentAt, Func<string, bool> isKnown)
    {
        try
        {
            using var timeout = new CancellationTokenSource(_options.CancelTimeout, _time);
            var since = sentAt - ClockSkew;
            if (await FindCreatedAsync(model, input, webhook, since, sentAt, isKnown, timeout.Token).ConfigureAwait(false) is { IsTerminal: false } orphan)
            {
                _logger.CancellingOnCallerRequest(orphan.Id);
                await CancelAsync(orphan.Id, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _logger.CancelFailed(e, $"made for model {model.Key}");
        }
    }

    // ---- files ----

    public async Task<string> UploadFileAsync(Stream content, string mediaType, string fileName, CancellationToken cancellationToken)
    {
        var start = content.CanSeek ? content.Position : -1;
        var attempt = 0;
        using var response = await SendAsync(
            "upload",
            () =>
            {
                if (attempt++ > 0)
                {
                    content.Position = start;
                }

                var part = new StreamContent(new NonClosingStream(content));
                part.Headers.ContentType = MediaTypeHeaderValue.Parse(mediaType);
                var form = new MultipartFormDataContent
                {
                    { part, "content", fileName },
                    { new StringContent(fileName), "filename" },
                    { new StringContent(mediaType), "type" },
                };
                return new HttpRequestMessage(HttpMethod.Post, new Uri(_baseUrl, "files")) { Content = form };
            },
            content.CanSeek ? RetryMode.OnlyThrottled : RetryMode.None,
            _options.RequestTimeout + TimeSpan.FromMinutes(5),
            cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await ToExceptionAsync(response, "file upload", null, null).ConfigureAwait(false);
        }

        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var file = JsonSerializer.Deserialize<UploadedFile>(bytes, Prediction.Json);
        var url = file?.Urls?.GetValueOrDefault("get");
        if (string.IsNullOrEmpty(url))
        {
            throw new ReplicateException("Replicate accepted the upload but returned no 'urls.get' to reference it.", response.StatusCode);
        }

        _logger.FileUploaded(response.Content.Headers.ContentLength ?? -1, mediaType, file!.Id);
        return url;
    }

    public async Task<Stream> OpenFileAsync(Uri url, string? predictionId, CancellationToken cancellationToken)
    {
        var response = await SendAsync(
            "download",
            () => new HttpRequestMessage(HttpMethod.Get, url),
            RetryMode.Idempotent,
            _options.RequestTimeout,
            cancellationToken,
            HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            using (response)
            {
                throw await ToExceptionAsync(response, $"output file '{url}' (it may have expired)", null, predictionId).ConfigureAwait(false);
            }
        }

        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        return new ResponseStream(stream, response);
    }

    public async Task<HttpResponseMessage> OpenEventStreamAsync(Uri url, string predictionId, CancellationToken cancellationToken)
    {
        var response = await SendAsync(
            "stream",
            () =>
            {
                var request = new HttpRequestMessage(HttpMethod.Get, url);
                request.Headers.Accept.ParseAdd("text/event-stream");
                request.Headers.CacheControl = new CacheControlHeaderValue { NoStore = true };
                return request;
            },
            RetryMode.Idempotent,
            Timeout.InfiniteTimeSpan,
            cancellationToken,
            HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            using (response)
            {
                throw await ToExceptionAsync(response, $"stream of prediction '{predictionId}'", null, predictionId).ConfigureAwait(false);
            }
        }

        return response;
    }

    // ---- plumbing ----

    private Uri PredictionUri(string id) => new(_baseUrl, "predictions/" + Uri.EscapeDataString(id));

    /// <summary>True when the token may be sent to this address: the API host or a trusted delivery host.</summary>
    internal bool IsTrusted(Uri url)
    {
        if (string.Equals(url.Host, _baseUrl.Host, StringComparison.OrdinalIgnoreCase) && url.Port == _baseUrl.Port)
        {
            return true;
        }

        foreach (var host in _options.TrustedHosts)
        {
            if (host.StartsWith('.')
                    ? url.Host.EndsWith(host, StringComparison.OrdinalIgnoreCase)
                    : string.Equals(url.Host, host, StringComparison.OrdinalIgnoreCase))
            {
                return url.Scheme == Uri.UriSchemeHttps || _baseUrl.Scheme == Uri.UriSchemeHttp;
            }
        }

        return false;
    }

    private async Task<HttpResponseMessage> SendAsync(
        string operation,
        Func<HttpRequestMessage> createRequest,
        RetryMode mode,
        TimeSpan timeout,
        CancellationToken cancellationToken,
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        var client = Client;
        async ValueTask<HttpResponseMessage> AttemptAsync(CancellationToken token)
        {
            using var request = createRequest();
            request.Headers.UserAgent.Clear();
            request.Headers.TryAddWithoutValidation("User-Agent", _options.UserAgent);
            if (request.RequestUri is { } uri && IsTrusted(uri))
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _options.ApiToken);
            }

            using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(token);
            if (timeout != Timeout.InfiniteTimeSpan)
            {
                timeoutCts.CancelAfter(timeout);
            }

            try
            {
                return await client.SendAsync(request, completion, timeoutCts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (!token.IsCancellationRequested)
            {
                throw new TimeoutException($"Replicate did not answer the {operation} request within {timeout}.", e);
            }
        }

        if (mode == RetryMode.None)
        {
            return await AttemptAsync(cancellationToken).ConfigureAwait(false);
        }

        var pipeline = mode == RetryMode.Idempotent ? _idempotent : _throttledOnly;
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(OperationKey, operation);
        try
        {
            var outcome = await pipeline.ExecuteOutcomeAsync(
                static async (ctx, attempt) =>
                {
                    try
                    {
                        return Outcome.FromResult(await attempt(ctx.CancellationToken).ConfigureAwait(false));
                    }
                    catch (Exception e)
                    {
                        return Outcome.FromException<HttpResponseMessage>(e);
                    }
                },
                context,
                (Func<CancellationToken, ValueTask<HttpResponseMessage>>)AttemptAsync).ConfigureAwait(false);
            outcome.ThrowIfException();
            return outcome.Result!;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private ResiliencePipeline<HttpResponseMessage> BuildPipeline(bool idempotent) =>
        new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = _time }
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = Math.Max(1, _options.MaxRetries),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = _options.RetryBaseDelay,
                MaxDelay = _options.MaxRetryDelay,
                ShouldHandle = args =>
                {
                    if (_options.MaxRetries == 0 || args.Context.CancellationToken.IsCancellationRequested)
                    {
                        return ValueTask.FromResult(false);
                    }

                    if (args.Outcome.Result is { } response)
                    {
                        var code = (int)response.StatusCode;
                        return ValueTask.FromResult(code == 429 || (idempotent && code >= 500));
                    }

                    return ValueTask.FromResult(idempotent && args.Outcome.Exception is HttpRequestException or TimeoutException or IOException);
                },
                DelayGenerator = async args =>
                {
                    if (args.Outcome.Result is { StatusCode: HttpStatusCode.TooManyRequests } response
                        && await ReadWaitHintAsync(response, args.Context.CancellationToken).ConfigureAwait(false) is { } hint)
                    {
                        return hint > _options.MaxRetryDelay ? _options.MaxRetryDelay : hint;
                    }

                    return null;
                },
                OnRetry = args =>
                {
                    var operation = args.Context.Properties.GetValue(OperationKey, "request");
                    Telemetry.Retries.Add(1, new KeyValuePair<string, object?>(Telemetry.Tags.Operation, operation));
                    if (args.Outcome.Result is { } response)
                    {
                        _logger.Retrying(operation, response.StatusCode, args.AttemptNumber + 1, args.RetryDelay);
                    }
                    else
                    {
                        _logger.RetryingAfterError(operation, args.Outcome.Exception?.GetType().Name ?? "error", args.AttemptNumber + 1, args.RetryDelay);
                    }

                    return ValueTask.CompletedTask;
                },
            })
            .Build();

    /// <summary>The wait a 429 asks for: the Retry-After header, else <c>retry_after</c> in the body, else "~Ns" in <c>detail</c>.</summary>
    internal async ValueTask<TimeSpan?> ReadWaitHintAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Headers.RetryAfter is { } retryAfter)
        {
            if (retryAfter.Delta is { } delta)
            {
                return delta;
            }

            if (retryAfter.Date is { } date)
            {
                var wait = date - _time.GetUtcNow();
                return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
            }
        }

        var problem = await ReadProblemAsync(response, cancellationToken).ConfigureAwait(false);
        if (problem.RetryAfter is { } seconds && seconds >= 0)
        {
            return TimeSpan.FromSeconds(seconds);
        }

        if (problem.Detail is { } detail && ResetHint().Match(detail) is { Success: true } m
            && double.TryParse(m.Groups["n"].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var n))
        {
            return TimeSpan.FromSeconds(n);
        }

        return null;
    }

    [GeneratedRegex(@"~\s*(?<n>\d+(\.\d+)?)\s*s", RegexOptions.IgnoreCase)]
    private static partial Regex ResetHint();

    private static async Task<Prediction> ReadPredictionAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return Prediction.Parse(bytes);
        }
        catch (JsonException e)
        {
            throw new ReplicateServerException($"Replicate answered {(int)response.StatusCode} with a body that is not a prediction.", response.StatusCode, null, null, e);
        }
    }

    internal sealed record Problem(string? Detail, string? Title, double? RetryAfter);

    private static async Task<Problem> ReadProblemAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            await response.Content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            if (bytes.Length == 0)
            {
                return new Problem(null, null, null);
            }

            if (JsonNode.Parse(bytes) is not JsonObject body)
            {
                return new Problem(Truncate(Encoding.UTF8.GetString(bytes)), null, null);
            }

            string? Text(string name) => body[name] is JsonValue v ? v.ToString() : body[name]?.ToJsonString();
            double? retryAfter = body["retry_after"] is JsonValue r
                ? r.TryGetValue<double>(out var d) ? d : double.TryParse(r.ToString(), NumberStyles.Float, CultureInfo.InvariantCulture, out d) ? d : null
                : null;
            return new Problem(Text("detail"), Text("title"), retryAfter);
        }
        catch (Exception e) when (e is JsonException or HttpRequestException or IOException or InvalidOperationException)
        {
            return new Problem(null, null, null);
        }
    }

    private static string Truncate(string text) => text.Length <= 500 ? text : text[..500] + "…";

    /// <summary>Maps an error response to the package's exceptions.</summary>
    internal async Task<Exception> ToExceptionAsync(HttpResponseMessage response, string what, string? model, string? predictionId)
    {
        var problem = await ReadProblemAsync(response, CancellationToken.None).ConfigureAwait(false);
        var detail = problem.Detail ?? problem.Title;
        var code = (int)response.StatusCode;
        return response.StatusCode switch
        {
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => new ReplicateUnauthenticatedException(detail),
            HttpStatusCode.PaymentRequired => new ReplicateOutOfCreditException(detail),
            HttpStatusCode.NotFound => new ReplicateNotFoundException(what, detail, predictionId),
            HttpStatusCode.RequestEntityTooLarge => new ReplicatePayloadTooLargeException(detail),
            HttpStatusCode.UnprocessableEntity or HttpStatusCode.BadRequest => new ReplicateInvalidInputException(model ?? what, detail, response.StatusCode),
            HttpStatusCode.TooManyRequests => new ReplicateRateLimitedException(detail, await ReadWaitHintAsync(response, CancellationToken.None).ConfigureAwait(false)),
            _ when code >= 500 => new ReplicateServerException(
                $"Replicate failed on the {what} request ({code}: {detail ?? response.ReasonPhrase}). It is likely temporary; retry later.",
                response.StatusCode, detail, predictionId),
            _ => new ReplicateException($"Replicate answered {code} to the {what} request: {detail ?? response.ReasonPhrase}.", response.StatusCode, detail, predictionId),
        };
    }
}
