using System.Net;

namespace Checkpointing.S3;

/// <summary>
/// The S3 service refused or failed a request of the <see cref="S3BlobStore"/> (wrong credentials, missing bucket,
/// throttling …). The service's exception is the <see cref="Exception.InnerException"/>.
/// </summary>
public sealed class S3BlobStoreException : CheckpointingException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong and what to do.</param>
    /// <param name="errorCode">The S3 error code, e.g. <c>SignatureDoesNotMatch</c>.</param>
    /// <param name="statusCode">The HTTP status of the response.</param>
    /// <param name="innerException">The service's exception.</param>
    public S3BlobStoreException(string message, string? errorCode, HttpStatusCode statusCode, Exception? innerException)
        : base(message, innerException)
    {
        ErrorCode = errorCode;
        StatusCode = statusCode;
    }

    /// <summary>The S3 error code, e.g. <c>SignatureDoesNotMatch</c>, <c>InvalidAccessKeyId</c>, <c>NoSuchBucket</c>.</summary>
    public string? ErrorCode { get; }

    /// <summary>The HTTP status of the response.</summary>
    public HttpStatusCode StatusCode { get; }

    /// <summary>Whether trying again later may succeed (throttling, 5xx).</summary>
    public bool IsTransient => StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.InternalServerError
        or HttpStatusCode.BadGateway or HttpStatusCode.GatewayTimeout or HttpStatusCode.TooManyRequests || ErrorCode is "SlowDown" or "RequestTimeout";
}
