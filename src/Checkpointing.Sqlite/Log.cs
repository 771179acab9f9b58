using Microsoft.Extensions.Logging;

namespace Checkpointing.Sqlite;

internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Information, "SQLite store opened on {DataSource}")]
    public static partial void StoreOpened(this ILogger logger, string dataSource);

    [LoggerMessage(1002, LogLevel.Information, "SQLite migration {Version} ({Name}) applied to {DataSource}")]
    public static partial void MigrationApplied(this ILogger logger, int version, string name, string dataSource);

    [LoggerMessage(1003, LogLevel.Debug, "SQLite schema of {DataSource} is at version {Version}, nothing to migrate")]
    public static partial void SchemaUpToDate(this ILogger logger, string dataSource, int version);

    [LoggerMessage(1004, LogLevel.Warning, "SQLite schema of {DataSource} is at version {Version}, newer than this package knows ({Known}); upgrade the package")]
    public static partial void SchemaNewer(this ILogger logger, string dataSource, int version, int known);

    [LoggerMessage(1005, LogLevel.Debug, "SQLite {Operation}: database busy (error {ErrorCode}), attempt {Attempt} retries in {DelayMs} ms")]
    public static partial void BusyRetry(this ILogger logger, string operation, int errorCode, int attempt, int delayMs);

    [LoggerMessage(1006, LogLevel.Debug, "SQLite: run {RunId} branch {Branch} created from {ParentBranch}")]
    public static partial void BranchCreated(this ILogger logger, Guid runId, string branch, string parentBranch);

    [LoggerMessage(1008, LogLevel.Warning, "SQLite {Operation}: database still busy after {Attempts} attempts, giving up")]
    public static partial void StillBusy(this ILogger logger, Exception exception, string operation, int attempts);

    [LoggerMessage(1007, LogLevel.Warning, "SQLite {Operation}: constraint violation mapped to an SDK exception")]
    public static partial void ConstraintViolation(this ILogger logger, Exception exception, string operation);

    [LoggerMessage(1009, LogLevel.Information, "SQLite: the folder of {DataSource} is read-only; the database is opened as a read-only snapshot (writes are refused)")]
    public static partial void OpenedReadOnly(this ILogger logger, string dataSource);
}
