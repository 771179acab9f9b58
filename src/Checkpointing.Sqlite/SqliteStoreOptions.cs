using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace Checkpointing.Sqlite;

/// <summary>Options of the <see cref="SqliteCheckpointStore"/>. Set exactly one of <see cref="ConnectionString"/> and <see cref="DataSource"/>.</summary>
public sealed class SqliteStoreOptions
{
    /// <summary>A full Microsoft.Data.Sqlite connection string, e.g. <c>Data Source=data/checkpoints.db</c>.</summary>
    /// <value>Default: null. Foreign keys are always switched on; pooling stays as given (on by default).</value>
    public string? ConnectionString { get; set; }

    /// <summary>The path of the database file, e.g. <c>data/checkpoints.db</c>. Its folder is created when missing (see <see cref="CreateMissingFolder"/>).</summary>
    /// <value>Default: null.</value>
    public string? DataSource { get; set; }

    /// <summary>
    /// Whether a missing folder of the database file is created. Set it to false for a path the user typed, so that a
    /// typo is refused at start-up (<see cref="SqliteDatabaseFileException"/>, <see cref="SqliteDatabaseFileProblem.MissingFolder"/>)
    /// instead of silently starting an empty store somewhere else.
    /// </summary>
    /// <value>Default: true.</value>
    public bool CreateMissingFolder { get; set; } = true;

    /// <summary>How long a command waits for another connection or process to release its lock on the database.</summary>
    /// <value>Default: 30 seconds. Must be between 0 and 10 minutes.</value>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How hard each commit waits for the disk (SQLite's <c>synchronous</c> pragma, under WAL). <see cref="SqliteSynchronous.Full"/>
    /// flushes the log on every commit, so a committed checkpoint survives a power loss or an OS crash.
    /// <see cref="SqliteSynchronous.Normal"/> skips that flush: still never corrupt, and durable when the process
    /// crashes or is killed, but the last commits may roll back on a power loss; commits are faster.
    /// </summary>
    /// <value>Default: <see cref="SqliteSynchronous.Full"/>, as SQLite itself: a recorded (paid) result is not lost.</value>
    public SqliteSynchronous Synchronous { get; set; } = SqliteSynchronous.Full;

    /// <summary>Whether the store creates or upgrades the schema on first use.</summary>
    /// <value>Default: true. When false, run <see cref="SqliteCheckpointStore.MigrateAsync"/> yourself before use.</value>
    public bool ApplyMigrations { get; set; } = true;

    /// <summary>How many times a write is retried from the start when the database stays busy or locked.</summary>
    /// <value>Default: 10. Must be between 0 and 1000.</value>
    public int MaxBusyRetries { get; set; } = 10;

    /// <summary>
    /// Builds the connection string the store uses: the file's folder resolved to a full path, and no <c>Foreign Keys</c>
    /// keyword (Microsoft.Data.Sqlite would run its pragma on every open; the store switches foreign keys on itself,
    /// once per physical connection).
    /// </summary>
    /// <returns>The connection string.</returns>
    /// <exception cref="InvalidOperationException">The options are not valid; the message lists every problem.</exception>
    internal string BuildConnectionString()
    {
        var errors = SqliteStoreOptionsValidator.Check(this);
        if (errors.Count > 0)
        {
            throw new InvalidOperationException(string.Join(" ", errors));
        }

        var builder = ConnectionString is not null
            ? new SqliteConnectionStringBuilder(ConnectionString)
            : new SqliteConnectionStringBuilder { DataSource = DataSource, Mode = SqliteOpenMode.ReadWriteCreate };
        builder.DataSource = Path.GetFullPath(builder.DataSource);
        builder.ForeignKeys = null;
        builder.DefaultTimeout = Math.Max(1, (int)Math.Ceiling(BusyTimeout.TotalSeconds));
        return builder.ToString();
    }
}

/// <summary>The durability of a commit on SQLite (see <see cref="SqliteStoreOptions.Synchronous"/>).</summary>
public enum SqliteSynchronous
{
    /// <summary>Flush on every commit: a commit survives a power loss.</summary>
    Full,

    /// <summary>No flush per commit (WAL): a commit survives a process crash; the last ones may roll back on a power loss.</summary>
    Normal,
}

/// <summary>Validates <see cref="SqliteStoreOptions"/>, reporting every problem at once.</summary>
internal sealed class SqliteStoreOptionsValidator : IValidateOptions<SqliteStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, SqliteStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = Check(options);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    internal static List<string> Check(SqliteStoreOptions options)
    {
        var errors = new List<string>();
        if (!Enum.IsDefined(options.Synchronous))
        {
            errors.Add($"SqliteStoreOptions.Synchronous is {(int)options.Synchronous}; set it to SqliteSynchronous.Full or SqliteSynchronous.Normal.");
        }

        var hasConnectionString = !string.IsNullOrWhiteSpace(options.ConnectionString);
        var hasDataSource = !string.IsNullOrWhiteSpace(options.DataSource);
        if (hasConnectionString == hasDataSource)
        {
            errors.Add(hasConnectionString
                ? "SqliteStoreOptions.ConnectionString and SqliteStoreOptions.DataSource are both set; set only one of them."
                : "SqliteStoreOptions: neither ConnectionString nor DataSource is set; set DataSource to a database file path such as 'data/checkpoints.db'.");
        }

        string? dataSource = options.DataSource;
        if (hasConnectionString)
        {
            try
            {
                var builder = new SqliteConnectionStringBuilder(options.ConnectionString);
                dataSource = builder.DataSource;
                if (builder.Mode is SqliteOpenMode.Memory or SqliteOpenMode.ReadOnly)
                {
                    errors.Add($"SqliteStoreOptions.ConnectionString uses Mode={builder.Mode}; the store needs a writable database file (Mode=ReadWriteCreate or ReadWrite).");
                }

                if (string.IsNullOrWhiteSpace(dataSource))
                {
                    errors.Add("SqliteStoreOptions.ConnectionString has no Data Source; add 'Data Source=path/to/checkpoints.db'.");
                }
            }
            catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException or InvalidOperationException)
            {
                errors.Add($"SqliteStoreOptions.ConnectionString '{options.ConnectionString}' cannot be parsed ({e.Message}); use the form 'Data Source=path/to/checkpoints.db'.");
            }
        }

        if (!string.IsNullOrWhiteSpace(dataSource) && (dataSource.Trim() == ":memory:" || dataSource.StartsWith("file:", StringComparison.OrdinalIgnoreCase)))
        {
            errors.Add($"SqliteStoreOptions data source '{dataSource}' is not a plain file path; use a path such as 'data/checkpoints.db' (for an in-memory store use UseInMemoryStore()).");
        }

        if (!options.CreateMissingFolder && !string.IsNullOrWhiteSpace(dataSource) && MissingFolder(dataSource) is { } missing)
        {
            errors.Add(MissingFolderMessage(dataSource, missing));
        }

        if (options.BusyTimeout < TimeSpan.Zero || options.BusyTimeout > TimeSpan.FromMinutes(10))
        {
            errors.Add($"SqliteStoreOptions.BusyTimeout is {options.BusyTimeout}; set it between 00:00:00 and 00:10:00.");
        }

        if (options.MaxBusyRetries is < 0 or > 1000)
        {
            errors.Add($"SqliteStoreOptions.MaxBusyRetries is {options.MaxBusyRetries}; set it between 0 and 1000.");
        }

        return errors;
    }

    /// <summary>The data source the options name (from <see cref="SqliteStoreOptions.DataSource"/> or the connection string), or null.</summary>
    internal static string? DataSourceOf(SqliteStoreOptions options)
    {
        if (!string.IsNullOrWhiteSpace(options.DataSource))
        {
            return options.DataSource;
        }

        try
        {
            return string.IsNullOrWhiteSpace(options.ConnectionString) ? null : new SqliteConnectionStringBuilder(options.ConnectionString).DataSource is { Length: > 0 } d ? d : null;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>The full path of the database file's folder when it does not exist, else null.</summary>
    internal static string? MissingFolder(string dataSource)
    {
        try
        {
            var folder = Path.GetDirectoryName(Path.GetFullPath(dataSource));
            return string.IsNullOrEmpty(folder) || Directory.Exists(folder) ? null : folder;
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            return null; // the path itself is refused when the database is opened
        }
    }

    internal static string MissingFolderMessage(string dataSource, string folder) =>
        $"The SQLite database '{Path.GetFullPath(dataSource)}' is in a folder that does not exist ('{folder}'); create the folder or fix the path " +
        "(SqliteStoreOptions.CreateMissingFolder is false, so it is not created for you).";
}
