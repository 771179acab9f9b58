using Npgsql;

namespace Checkpointing.Postgres;

/// <summary>
/// Turns PostgreSQL errors into the SDK's exceptions by SQLSTATE (and, for unique violations, by constraint name),
/// keeping the <see cref="PostgresException"/> as the inner exception.
/// </summary>
internal static class PostgresExceptionTransformer
{
    /// <summary>serialization_failure: the transaction may succeed when run again.</summary>
    internal const string SerializationFailure = "40001";

    /// <summary>deadlock_detected: the transaction may succeed when run again.</summary>
    internal const string DeadlockDetected = "40P01";

    private static readonly Dictionary<string, string> UniqueMessages = new(StringComparer.Ordinal)
    {
        ["runs_pkey"] = "A run with this id already exists; create the run with a new id.",
        ["uq_checkpoints_id"] = "A checkpoint with this id already exists; commit the checkpoint with a new id.",
        ["artifacts_pkey"] = "An artifact id is used twice or already exists; give every new artifact a new id.",
        ["uq_artifacts_type_key"] = "The checkpoint holds two artifacts with the same type and key; each type and key must be unique within a checkpoint.",
        ["uq_branches_run_name"] = "A branch with this name already exists in the run.",
    };

    /// <summary>
    /// Whether running the whole call (its transaction) again, on a new connection, may succeed: a serialization failure
    /// or a deadlock; a connection the server closed (SQLSTATE class 08, an administrator's or a crash shutdown, a server
    /// still starting up); an open connection that was reset or cut. A refused or unresolvable address is not transient:
    /// it is reported at once.
    /// </summary>
    /// <param name="exception">The error.</param>
    internal static bool IsTransient(Exception exception) => exception switch
    {
        PostgresException p => p.SqlState is SerializationFailure or DeadlockDetected
            or PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow
            || p.SqlState.StartsWith("08", StringComparison.Ordinal),
        NpgsqlException n => n.InnerException is IOException
            or System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionReset or System.Net.Sockets.SocketError.ConnectionAborted or System.Net.Sockets.SocketError.Shutdown },
        _ => false,
    };

    /// <summary>The SQLSTATE of a server error, or what happened to the connection, for messages and logs.</summary>
    /// <param name="exception">A transient error.</param>
    internal static string Describe(Exception exception) => exception switch
    {
        PostgresException p => p.SqlState,
        { InnerException: System.Net.Sockets.SocketException s } => $"a connection error ({s.SocketErrorCode})",
        _ => "a lost connection",
    };

    /// <summary>Maps <paramref name="exception"/> to an SDK exception; the message names the operation and what to do.</summary>
    /// <param name="exception">The error.</param>
    /// <param name="operation">The store operation that failed, e.g. <c>CommitCheckpoint</c>.</param>
    /// <returns>The SDK exception to throw.</returns>
    internal static CheckpointingException Transform(PostgresException exception, string operation)
    {
        switch (exception.SqlState)
        {
            case PostgresErrorCodes.UniqueViolation:
                if (exception.ConstraintName is "pk_artifact_versions" or "uq_checkpoints_version")
                {
                    return new ConcurrencyConflictException(
                        $"{operation} conflicted with a concurrent write ({exception.ConstraintName}); read the current state again and retry.", exception);
                }

                return new InvalidStateException(
                    $"{operation} was refused: " + (exception.ConstraintName is not null && UniqueMessages.TryGetValue(exception.ConstraintName, out var message)
                        ? message
                        : $"it would duplicate data already stored (constraint {exception.ConstraintName})."),
                    exception);
            case PostgresErrorCodes.ForeignKeyViolation:
                return new InvalidStateException(
                    $"{operation} was refused: it refers to a run, branch or checkpoint that does not exist (constraint {exception.ConstraintName}).", exception);
            case PostgresErrorCodes.NotNullViolation:
            case PostgresErrorCodes.CheckViolation:
                return new InvalidStateException(
                    $"{operation} was refused: a value breaks a rule of the schema (constraint {exception.ConstraintName ?? exception.ColumnName}).", exception);
            case PostgresErrorCodes.UndefinedTable:
            case PostgresErrorCodes.InvalidSchemaName:
                return new CheckpointingException(
                    $"PostgreSQL {operation} failed: the store's tables do not exist ({exception.MessageText}). " +
                    "Set PostgresStoreOptions.ApplyMigrations = true or call PostgresCheckpointStore.MigrateAsync() before use.", exception);
            case PostgresErrorCodes.UntranslatableCharacter: // 22P05, e.g. \u0000 in jsonb
            case PostgresErrorCodes.CharacterNotInRepertoire:
                return new CheckpointingException(
                    $"PostgreSQL {operation} was refused ({exception.SqlState}): a text or JSON value holds a character PostgreSQL cannot store, " +
                    "such as U+0000 (NUL) or half of a surrogate pair. Remove it from the value and try again. " +
                    $"Server: {exception.MessageText}{Details(exception)}", exception);
            default:
                return new CheckpointingException(
                    $"PostgreSQL {operation} failed with {exception.SqlState} ({exception.Severity}): {exception.MessageText}{Details(exception)}. " +
                    "The operation was rolled back; check the value or the server's log, then retry.", exception);
        }
    }

    private static string Details(PostgresException exception) =>
        (string.IsNullOrWhiteSpace(exception.Detail) ? "" : $" Detail: {exception.Detail}")
        + (string.IsNullOrWhiteSpace(exception.Hint) ? "" : $" Hint: {exception.Hint}")
        + (exception.TableName is null ? "" : $" (table {exception.TableName}{(exception.ColumnName is null ? "" : $", column {exception.ColumnName}")})");
}
