using Microsoft.Extensions.Logging;

namespace Checkpointing.Postgres;

internal static partial class Log
{
    [LoggerMessage(2001, LogLevel.Information, "PostgreSQL store opened on schema {Schema}")]
    public static partial void StoreOpened(this ILogger logger, string schema);

    [LoggerMessage(2002, LogLevel.Information, "PostgreSQL migration {Version} ({Name}) applied to schema {Schema}")]
    public static partial void MigrationApplied(this ILogger logger, int version, string name, string schema);

    [LoggerMessage(2003, LogLevel.Debug, "PostgreSQL schema {Schema} is at version {Version}, nothing to migrate")]
    public static partial void SchemaUpToDate(this ILogger logger, string schema, int version);

    [LoggerMessage(2004, LogLevel.Warning, "PostgreSQL schema {Schema} is at version {Version}, newer than this package knows ({Known}); upgrade the package")]
    public static partial void SchemaNewer(this ILogger logger, string schema, int version, int known);

    [LoggerMessage(2005, LogLevel.Debug, "PostgreSQL {Operation}: transient error {SqlState}, attempt {Attempt} retries in {DelayMs} ms")]
    public static partial void TransientRetry(this ILogger logger, string operation, string sqlState, int attempt, int delayMs);

    [LoggerMessage(2006, LogLevel.Debug, "PostgreSQL: run {RunId} branch {Branch} created from {ParentBranch}")]
    public static partial void BranchCreated(this ILogger logger, Guid runId, string branch, string parentBranch);

    [LoggerMessage(2007, LogLevel.Warning, "PostgreSQL {Operation}: error {SqlState} (constraint {Constraint}) mapped to an SDK exception")]
    public static partial void ConstraintViolation(this ILogger logger, Exception exception, string operation, string sqlState, string? constraint);

    [LoggerMessage(2008, LogLevel.Warning, "PostgreSQL {Operation}: still failing with transient error {SqlState} after {Attempts} attempts, giving up")]
    public static partial void GaveUp(this ILogger logger, Exception exception, string operation, string sqlState, int attempts);

    [LoggerMessage(2009, LogLevel.Debug, "PostgreSQL: listening for changes on channel {Channel}")]
    public static partial void ListenerConnected(this ILogger logger, string channel);

    [LoggerMessage(2010, LogLevel.Warning, "PostgreSQL: the connection listening on channel {Channel} failed; opening it again in {DelayMs} ms (waiters poll until then)")]
    public static partial void ListenerFailed(this ILogger logger, Exception exception, string channel, int delayMs);

    [LoggerMessage(2011, LogLevel.Debug, "PostgreSQL CommitCheckpoint: a concurrent commit on run {RunId} branch {Branch} phase {Phase} took the next version first; committing again")]
    public static partial void CommitVersionTaken(this ILogger logger, Guid runId, string branch, int phase);
}
