using System.Net;

namespace Checkpointing.Providers.Replicate;

/// <summary>Replicate refused a request or could not be reached; the base of the provider's errors.</summary>
public class ReplicateException : GenerationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed and what to do.</param>
    /// <param name="statusCode">The HTTP status, when there was a response.</param>
    /// <param name="detail">The problem's <c>detail</c>, when the response carried one.</param>
    /// <param name="predictionId">The prediction, when one is concerned.</param>
    /// <param name="isTransient">Whether retrying may succeed.</param>
    /// <param name="innerException">The cause.</param>
    public ReplicateException(string message, HttpStatusCode? statusCode = null, string? detail = null, string? predictionId = null, bool isTransient = false, Exception? innerException = null)
        : base(message, predictionId, isTransient, innerException)
    {
        StatusCode = statusCode;
        Detail = detail;
    }

    /// <summary>The HTTP status, when there was a response.</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>The problem's <c>detail</c> as Replicate sent it, when there was one.</summary>
    public string? Detail { get; }
}

/// <summary>401: the API token is missing, wrong or revoked.</summary>
public sealed class ReplicateUnauthenticatedException(string? detail, Exception? innerException = null)
    : ReplicateException(
        $"Replicate refused the API token (401: {detail ?? "unauthenticated"}). Set ReplicateOptions.ApiToken or {ReplicateOptions.ApiTokenEnvironmentVariable} to a valid token.",
        HttpStatusCode.Unauthorized, detail, null, false, innerException);

/// <summary>402: the account is out of credit or has a billing problem.</summary>
public sealed class ReplicateOutOfCreditException(string? detail, Exception? innerException = null)
    : ReplicateException(
        $"Replicate account is out of credit (402: {detail ?? "payment required"}). Add credit or a payment method at replicate.com/account/billing.",
        HttpStatusCode.PaymentRequired, detail, null, false, innerException);

/// <summary>404: the model, version, prediction or file does not exist (or an output file expired).</summary>
public sealed class ReplicateNotFoundException(string what, string? detail, string? predictionId = null, Exception? innerException = null)
    : ReplicateException(
        $"Replicate has no {what} (404: {detail ?? "not found"}). Check the name or id; outputs and predictions of API calls are removed after about an hour.",
        HttpStatusCode.NotFound, detail, predictionId, false, innerException)
{
    /// <summary>What was looked for, e.g. <c>model 'owner/name'</c>.</summary>
    public string What { get; } = what;
}

/// <summary>413: the request or upload is too large.</summary>
public sealed class ReplicatePayloadTooLargeException(string? detail, Exception? innerException = null)
    : ReplicateException(
        $"Replicate refused the request as too large (413: {detail ?? "payload too large"}). Files may be at most 100 MB; resize or compress the input.",
        HttpStatusCode.RequestEntityTooLarge, detail, null, false, innerException);

/// <summary>422 (or 400): the model rejected the input.</summary>
public sealed class ReplicateInvalidInputException(string model, string? detail, HttpStatusCode statusCode = HttpStatusCode.UnprocessableEntity, Exception? innerException = null)
    : ReplicateException(
        $"Model '{model}' rejected the input ({(int)statusCode}: {detail ?? "invalid input"}). Fix the input; the model's schema is at GET /v1/models/{model}.",
        statusCode, detail, null, false, innerException)
{
    /// <summary>The model that rejected the input.</summary>
    public string Model { get; } = model;
}

/// <summary>429 after every retry: Replicate is throttling the account.</summary>
public sealed class ReplicateRateLimitedException(string? detail, TimeSpan? retryAfter, Exception? innerException = null)
    : ReplicateException(
        $"Replicate kept throttling the requests (429: {detail ?? "rate limited"}). Try again later or raise ReplicateOptions.MaxRetries.",
        HttpStatusCode.TooManyRequests, detail, null, true, innerException)
{
    /// <summary>The last wait the server asked for, if any.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>A 5xx, a timeout or a dropped connection: Replicate may be unavailable; retrying later may succeed.</summary>
public sealed class ReplicateServerException(string message, HttpStatusCode? statusCode, string? detail, string? predictionId = null, Exception? innerException = null)
    : ReplicateException(message, statusCode, detail, predictionId, true, innerException);

/// <summary>A prediction did not reach a terminal status within <see cref="ReplicateOptions.WaitTimeout"/>; it may still finish.</summary>
public sealed class ReplicateWaitTimeoutException(string predictionId, string? lastStatus, TimeSpan timeout)
    : ReplicateException(
        $"Prediction '{predictionId}' was still '{lastStatus ?? "unknown"}' after {timeout}. It keeps running on Replicate: wait on it again later (WaitAsync with the same id) or cancel it.",
        null, null, predictionId, true)
{
    /// <summary>The last status seen.</summary>
    public string? LastStatus { get; } = lastStatus;
}

/// <summary>A webhook delivery failed verification: its signature, timestamp or headers are wrong. Answer it with 400 or 401.</summary>
public sealed class ReplicateWebhookSignatureException(string reason)
    : CheckpointingException($"The webhook delivery is not authentic: {reason}. Check ReplicateOptions.WebhookSecret (GET /v1/webhooks/default/secret) and that the raw body bytes are passed unchanged.")
{
    /// <summary>Why the delivery was rejected.</summary>
    public string Reason { get; } = reason;
}
