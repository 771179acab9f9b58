using Microsoft.Extensions.Logging;

namespace Checkpointing.AspNetCore;

internal static partial class Log
{
    [LoggerMessage(6001, LogLevel.Information, "Checkpointing endpoints mapped under {Prefix} (authorization {Authorization})")]
    public static partial void EndpointsMapped(this ILogger logger, string prefix, string authorization);

    [LoggerMessage(6002, LogLevel.Debug, "{Method} {Path} refused with {Status} {Type}: {Detail}")]
    public static partial void Refused(this ILogger logger, string method, string path, int status, string type, string detail);

    [LoggerMessage(6003, LogLevel.Information, "Run {RunId} of another owner was asked for by {Owner}; answered as not found")]
    public static partial void OtherOwner(this ILogger logger, Guid runId, string owner);

    [LoggerMessage(6004, LogLevel.Debug, "Status stream of run {RunId} opened after event {After}")]
    public static partial void StreamOpened(this ILogger logger, Guid runId, long after);

    [LoggerMessage(6005, LogLevel.Information, "Checkpointing review page mapped under {Prefix}, using the API at {Api}")]
    public static partial void ReviewMapped(this ILogger logger, string prefix, string api);
}
