using System.Net;
using Microsoft.Extensions.Logging;

namespace Checkpointing.Providers.Replicate;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Replicate prediction {PredictionId} created for model {Model} (status {Status}, sync wait {SyncWaitSeconds}s)")]
    public static partial void PredictionCreated(this ILogger logger, string predictionId, string model, string? status, int syncWaitSeconds);

    [LoggerMessage(2, LogLevel.Information, "Replicate prediction {PredictionId} ended {Status} (predict time {PredictTime}s, cost {Cost})")]
    public static partial void PredictionCompleted(this ILogger logger, string predictionId, string status, double? predictTime, decimal cost);

    [LoggerMessage(3, LogLevel.Warning, "Replicate prediction {PredictionId} failed: {Error}; logs: {Logs}")]
    public static partial void PredictionFailed(this ILogger logger, string predictionId, string? error, string? logs);

    [LoggerMessage(4, LogLevel.Warning, "Replicate request {Operation} answered {StatusCode}; retry {Attempt} in {Delay}")]
    public static partial void Retrying(this ILogger logger, string operation, HttpStatusCode? statusCode, int attempt, TimeSpan delay);

    [LoggerMessage(5, LogLevel.Warning, "Replicate request {Operation} failed ({Error}); retry {Attempt} in {Delay}")]
    public static partial void RetryingAfterError(this ILogger logger, string operation, string error, int attempt, TimeSpan delay);

    [LoggerMessage(6, LogLevel.Warning, "The create request for model {Model} ended without a usable answer ({Reason}); looking for the prediction it may have made instead of creating again")]
    public static partial void Reconciling(this ILogger logger, string model, string reason);

    [LoggerMessage(7, LogLevel.Information, "The lost create request for model {Model} had made prediction {PredictionId}; using it")]
    public static partial void Reconciled(this ILogger logger, string model, string predictionId);

    [LoggerMessage(8, LogLevel.Information, "Cancelling Replicate prediction {PredictionId} because the caller cancelled")]
    public static partial void CancellingOnCallerRequest(this ILogger logger, string predictionId);

    [LoggerMessage(9, LogLevel.Warning, "Cancelling Replicate prediction {Target} failed; it may keep running")]
    public static partial void CancelFailed(this ILogger logger, Exception exception, string target);

    [LoggerMessage(10, LogLevel.Debug, "Replicate prediction {PredictionId} reports the unknown status {Status}; treating it as running")]
    public static partial void UnknownStatus(this ILogger logger, string predictionId, string? status);

    [LoggerMessage(11, LogLevel.Debug, "Replicate webhook {WebhookId} for prediction {PredictionId} ({Status}) woke a waiter: {Woke}")]
    public static partial void WebhookReceived(this ILogger logger, string webhookId, string predictionId, string? status, bool woke);

    [LoggerMessage(12, LogLevel.Debug, "Replicate webhook {WebhookId} was delivered before; ignored")]
    public static partial void WebhookDuplicate(this ILogger logger, string webhookId);

    [LoggerMessage(13, LogLevel.Warning, "Replicate prediction {PredictionId} succeeded but its outputs were removed (data retention); no outputs are returned")]
    public static partial void OutputsRemoved(this ILogger logger, string predictionId);

    [LoggerMessage(14, LogLevel.Warning, "No price is configured for Replicate model {Model}; its cost is reported as 0. Add it to ReplicateOptions.Prices")]
    public static partial void NoPrice(this ILogger logger, string model);

    [LoggerMessage(15, LogLevel.Debug, "Uploaded a {Size}-byte {MediaType} file to Replicate as {FileId}")]
    public static partial void FileUploaded(this ILogger logger, long size, string mediaType, string fileId);

    [LoggerMessage(16, LogLevel.Debug, "Waiting on Replicate prediction {PredictionId} stopped because the backend was disposed; the prediction keeps running")]
    public static partial void WaitAbandonedOnDispose(this ILogger logger, string predictionId);
}
