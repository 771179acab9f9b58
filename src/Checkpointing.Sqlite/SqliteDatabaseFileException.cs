namespace Checkpointing.Sqlite;

/// <summary>What is wrong with the database file behind a <see cref="SqliteDatabaseFileException"/>.</summary>
public enum SqliteDatabaseFileProblem
{
    /// <summary>The file exists but is empty (0 bytes): it holds no checkpoints, and is not taken for a new store.</summary>
    Empty,

    /// <summary>The file is not a SQLite database (its header is not <c>SQLite format 3</c>).</summary>
    NotADatabase,

    /// <summary>The file or its folder cannot be written; reads still work.</summary>
    ReadOnly,

    /// <summary>The file's folder does not exist and <see cref="SqliteStoreOptions.CreateMissingFolder"/> is false.</summary>
    MissingFolder,
}

/// <summary>
/// The SQLite database file cannot be used as it is: empty, not a database, read-only for a write, or in a folder
/// that does not exist. Nothing was changed; the message says what to do.
/// </summary>
public sealed class SqliteDatabaseFileException : CheckpointingException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="path">The database file.</param>
    /// <param name="problem">What is wrong with it.</param>
    /// <param name="message">What went wrong and what to do.</param>
    /// <param name="innerException">The driver's error, if any.</param>
    public SqliteDatabaseFileException(string path, SqliteDatabaseFileProblem problem, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Path = path;
        Problem = problem;
    }

    /// <summary>The full path of the database file.</summary>
    public string Path { get; }

    /// <summary>What is wrong with it.</summary>
    public SqliteDatabaseFileProblem Problem { get; }
}
