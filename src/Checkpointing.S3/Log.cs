using Microsoft.Extensions.Logging;

namespace Checkpointing.S3;

internal static partial class Log
{
    [LoggerMessage(3001, LogLevel.Information, "S3 blob store on bucket {Bucket} with key prefix '{Prefix}'")]
    public static partial void StoreOpened(this ILogger logger, string bucket, string prefix);

    [LoggerMessage(3002, LogLevel.Debug, "S3 blob {Hash} stored ({Size} bytes, {Parts} parts)")]
    public static partial void BlobStored(this ILogger logger, string hash, long size, int parts);

    [LoggerMessage(3003, LogLevel.Debug, "S3 blob {Hash} was already stored; its last-modified time was refreshed")]
    public static partial void BlobAlreadyStored(this ILogger logger, string hash);

    [LoggerMessage(3004, LogLevel.Debug, "S3 multipart upload {UploadId} to {Key} started")]
    public static partial void MultipartStarted(this ILogger logger, string uploadId, string key);

    [LoggerMessage(3005, LogLevel.Information, "S3 multipart upload {UploadId} to {Key} aborted after a failure or cancellation")]
    public static partial void MultipartAborted(this ILogger logger, string uploadId, string key);

    [LoggerMessage(3006, LogLevel.Warning, "S3 multipart upload {UploadId} to {Key} could not be aborted; an AbortIncompleteMultipartUpload lifecycle rule on the bucket reclaims it")]
    public static partial void MultipartAbortFailed(this ILogger logger, Exception exception, string uploadId, string key);

    [LoggerMessage(3007, LogLevel.Warning, "S3 temporary object {Key} could not be deleted; a lifecycle rule on the '.tmp/' prefix reclaims it")]
    public static partial void TempDeleteFailed(this ILogger logger, Exception exception, string key);

    [LoggerMessage(3008, LogLevel.Debug, "S3 blob {Hash} deleted")]
    public static partial void BlobDeleted(this ILogger logger, string hash);
}
