using System.Runtime.CompilerServices;
using System.Text.Json;
using Checkpointing.Relational;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Checkpointing.Sqlite;

/// <summary>
/// A metadata store in a SQLite database file: the zero-setup default that survives restarts. Safe for several
/// threads and several processes on one file: the database runs in WAL mode (readers never block the writer), every
/// write is one <c>BEGIN IMMEDIATE</c> transaction (branch names and checkpoint versions are allocated inside it), and
/// a call that finds the database busy or locked waits for <see cref="SqliteStoreOptions.BusyTimeout"/> and is then
/// retried from the start (up to <see cref="SqliteStoreOptions.MaxBusyRetries"/> times, with a growing, jittered delay).
/// </summary>
/// <remarks>
/// The schema is created or upgraded on first use by numbered migrations recorded in a <c>schema_version</c> table
/// (see <see cref="SqliteStoreOptions.ApplyMigrations"/>). Dispose the store to close its pooled connections.
/// </remarks>
public sealed partial class SqliteCheckpointStore : ICheckpointStore, IDisposable
{
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;
    private const int SqliteReadOnly = 8;
    private const int SqliteCantOpen = 14;
    private const int SqliteConstraint = 19;
    private const int SqliteNotADatabase = 26;
    private const int SqliteConstraintPrimaryKey = 1555;
    private const int SqliteConstraintUnique = 2067;

    /// <summary>
    /// The physical connections a store has set up, with the pragmas it set (one table for every store: stores on one
    /// file share one pool). An entry goes when its connection is closed for good.
    /// </summary>
    private static readonly ConditionalWeakTable<SQLitePCL.sqlite3, string> ConfiguredConnections = new();

    private readonly string _connectionString;
    private volatile string _openConnectionString;
    private readonly string _connectionPragmas;
    private readonly TransientRetry _retry;
    private readonly bool _applyMigrations;
    private readonly bool _createMissingFolder;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly SemaphoreSlim _migrationGate = new(1, 1);
    private volatile bool _migrated;
    private bool _disposed;

    /// <summary>Creates the store. Nothing is opened until the first call.</summary>
    /// <param name="options">Where the database is and how to wait for locks.</param>
    /// <param name="loggerFactory">Creates the store's logger; null for none.</param>
    /// <param name="timeProvider">The clock for the times the store records itself (when a migration was applied); null for the system clock.</param>
    /// <exception cref="InvalidOperationException">The options are not valid; the message says what to set.</exception>
    public SqliteCheckpointStore(SqliteStoreOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!options.CreateMissingFolder && SqliteStoreOptionsValidator.DataSourceOf(options) is { } path && SqliteStoreOptionsValidator.MissingFolder(path) is { } missing)
        {
            throw new SqliteDatabaseFileException(Path.GetFullPath(path), SqliteDatabaseFileProblem.MissingFolder, SqliteStoreOptionsValidator.MissingFolderMessage(path, missing));
        }

        _connectionString = options.BuildConnectionString();
        _openConnectionString = _connectionString;
        DataSource = new SqliteConnectionStringBuilder(_connectionString).DataSource;
        _connectionPragmas = string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {(int)options.BusyTimeout.TotalMilliseconds}; PRAGMA synchronous = {(options.Synchronous == SqliteSynchronous.Normal ? "NORMAL" : "FULL")};");
        _applyMigrations = options.ApplyMigrations;
        _createMissingFolder = options.CreateMissingFolder;
        _time = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<SqliteCheckpointStore>();
        _retry = new TransientRetry(options.MaxBusyRetries, TimeSpan.FromMilliseconds(40), TimeSpan.FromSeconds(1), IsBusy,
            (operation, e, attempt, delay) => _logger.BusyRetry(operation, ((SqliteException)e).SqliteErrorCode, attempt, (int)delay.TotalMilliseconds));
        if (SqliteStoreOptionsValidator.MissingFolder(DataSource) is { } folder)
        {
            if (!options.CreateMissingFolder)
            {
                throw new SqliteDatabaseFileException(DataSource, SqliteDatabaseFileProblem.MissingFolder, SqliteStoreOptionsValidator.MissingFolderMessage(DataSource, folder));
            }

            Directory.CreateDirectory(folder);
        }

        _logger.StoreOpened(DataSource);
    }

    /// <summary>The full path of the database file.</summary>
    public string DataSource { get; }

    /// <summary>
    /// Creates or upgrades the schema now. Runs automatically on first use unless
    /// <see cref="SqliteStoreOptions.ApplyMigrations"/> is false; safe to call again and from several processes at once.
    /// </summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The number of migrations this call applied (0 when the schema was up to date).</returns>
    public async Task<int> MigrateAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _migrationGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await CheckDatabaseFileAsync(cancellationToken).ConfigureAwait(false);
            UseReadOnlySnapshotIfFolderIsReadOnly();
            var applied = await RetryBusyAsync("migrate", async ct =>
            {
                using var connection = Open();
                return await SqliteMigrator.MigrateAsync(connection, _logger, DataSource, _time.GetUtcNow(), ct).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
            _migrated = true;
            return applied;
        }
        finally
        {
            _migrationGate.Release();
        }
    }

    /// <summary>Reads the schema version recorded in the database (0 before the first migration).</summary>
    internal Task<int> GetSchemaVersionAsync(CancellationToken cancellationToken = default) =>
        !File.Exists(DataSource) ? Task.FromResult(0) : ReadAsync((connection, transaction) =>
        {
            using var exists = Command(connection, transaction, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version';");
            return Convert.ToInt64(exists.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 0
                ? 0
                : SqliteMigrator.ReadVersion(connection, transaction);
        }, cancellationToken, migrate: false);

    /// <summary>
    /// Makes sure the store can serve a call now, the way a call would (creating or upgrading the schema first when
    /// migrations are on), then checks the file on disk with a connection of its own, outside the pool (pooled
    /// connections keep a moved or deleted file open and would hide it), and reads the schema version: the health
    /// check's probe.
    /// </summary>
    /// <param name="cancellationToken">Cancels the probe.</param>
    /// <returns>The schema version.</returns>
    internal async Task<int> ProbeAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await EnsureMigratedAsync(cancellationToken).ConfigureAwait(false);
        if (!File.Exists(DataSource))
        {
            throw new CheckpointingException(SqliteStoreOptionsValidator.MissingFolder(DataSource) is { } folder
                ? $"The folder '{folder}' of the SQLite database '{DataSource}' no longer exists (moved or deleted while the store was using it); restore it."
                : $"The SQLite database '{DataSource}' no longer exists (moved or deleted while the store was using it); restore the file.");
        }

        await CheckDatabaseFileAsync(cancellationToken).ConfigureAwait(false);
        return await RetryBusyAsync("probe", () =>
        {
            var builder = new SqliteConnectionStringBuilder(_openConnectionString) { Pooling = false };
            if (builder.Mode != SqliteOpenMode.ReadOnly)
            {
                builder.Mode = SqliteOpenMode.ReadWrite; // never create the file
            }

            using var connection = new SqliteConnection(builder.ToString());
            connection.Open();
            using var transaction = connection.BeginTransaction(deferred: true);
            var version = SqliteMigrator.ReadVersion(connection, transaction);
            transaction.Commit();
            return version;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes the pooled connections to the database file.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var connectionString in new[] { _connectionString, _openConnectionString }.Distinct(StringComparer.Ordinal))
        {
            using var connection = new SqliteConnection(connectionString);
            SqliteConnection.ClearPool(connection);
        }

        _writeGate.Dispose();
        _migrationGate.Dispose();
    }

    /// <summary>
    /// The value of a per-connection pragma on a connection the store opens, for tests: <c>synchronous</c> (2 for FULL,
    /// 1 for NORMAL), <c>foreign_keys</c>, <c>busy_timeout</c> (milliseconds).
    /// </summary>
    internal long ReadPragma(string name)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA {name};";
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>The connection string the store opens its connections with (the pool they come from), for tests.</summary>
    internal string ConnectionString => _openConnectionString;

    /// <summary>
    /// Opens a connection from the pool. A physical connection keeps its per-connection settings (<c>foreign_keys</c>,
    /// <c>busy_timeout</c>, <c>synchronous</c>) while it waits in the pool, so they are set only the first time the
    /// store gets it, or again when a store with other settings set it up last (stores on one file share the pool).
    /// </summary>
    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_openConnectionString);
        try
        {
            connection.Open();
            var handle = connection.Handle!;
            if (!ConfiguredConnections.TryGetValue(handle, out var applied) || !string.Equals(applied, _connectionPragmas, StringComparison.Ordinal))
            {
                using var pragma = connection.CreateCommand();
                pragma.CommandText = _connectionPragmas;
                pragma.ExecuteNonQuery();
                ConfiguredConnections.AddOrUpdate(handle, _connectionPragmas);
            }

            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private async ValueTask EnsureMigratedAsync(CancellationToken cancellationToken)
    {
        if (_migrated)
        {
            return;
        }

        if (_applyMigrations)
        {
            await MigrateAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        await CheckDatabaseFileAsync(cancellationToken).ConfigureAwait(false);
        UseReadOnlySnapshotIfFolderIsReadOnly();
        var version = await GetSchemaVersionAsync(cancellationToken).ConfigureAwait(false);
        if (version < SqliteMigrator.LatestVersion)
        {
            throw new InvalidOperationException(
                $"The SQLite database '{DataSource}' is at schema version {version}, but this store needs version {SqliteMigrator.LatestVersion}. " +
                "Call SqliteCheckpointStore.MigrateAsync() once before use, or set SqliteStoreOptions.ApplyMigrations = true.");
        }

        _migrated = true;
    }

    /// <summary>
    /// Runs <paramref name="body"/> in a <c>BEGIN IMMEDIATE</c> transaction, committing when it returns. A constraint
    /// violation becomes the exception <paramref name="conflict"/> makes of it, or an <see cref="InvalidStateException"/>
    /// naming the operation when it makes none.
    /// </summary>
    private async Task<T> WriteAsync<T>(
        string operation, Func<SqliteConnection, SqliteTransaction, T> body, CancellationToken cancellationToken, Func<SqliteException, Exception?>? conflict = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await EnsureMigratedAsync(cancellationToken).ConfigureAwait(false);

        // One writer per store instance at a time: other threads queue here instead of spinning on SQLite's lock.
        // Other processes (and other store instances) are serialised by BEGIN IMMEDIATE and the busy timeout.
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await RetryBusyAsync(operation, () =>
            {
                using var connection = Open();
                using var transaction = connection.BeginTransaction(deferred: false);
                try
                {
                    var result = body(connection, transaction);
                    transaction.Commit();
                    return result;
                }
                catch (SqliteException e) when (e.SqliteErrorCode == SqliteConstraint)
                {
                    if (conflict?.Invoke(e) is { } refused)
                    {
                        throw refused;
                    }

                    _logger.ConstraintViolation(e, operation);
                    throw new InvalidStateException($"{operation} was refused because it conflicts with data already stored: {e.Message}", e);
                }
            }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/> in a read transaction, so all its statements see one consistent snapshot. A body
    /// of one statement passes <paramref name="snapshot"/> false: it runs without a transaction (SQLite reads a single
    /// statement from one snapshot anyway) and saves the <c>BEGIN</c> and <c>COMMIT</c>.
    /// </summary>
    private async Task<T> ReadAsync<T>(Func<SqliteConnection, SqliteTransaction?, T> body, CancellationToken cancellationToken, bool migrate = true, bool snapshot = true)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (migrate)
        {
            await EnsureMigratedAsync(cancellationToken).ConfigureAwait(false);
        }

        return await RetryBusyAsync("read", () =>
        {
            using var connection = Open();
            if (!snapshot)
            {
                return body(connection, null);
            }

            using var transaction = connection.BeginTransaction(deferred: true);
            var result = body(connection, transaction);
            transaction.Commit();
            return result;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether SQLite refused the call because another connection or process holds the lock it needs.</summary>
    private static bool IsBusy(Exception exception) => exception is SqliteException { SqliteErrorCode: SqliteBusy or SqliteLocked };

    private Task<T> RetryBusyAsync<T>(string operation, Func<T> action, CancellationToken cancellationToken) =>
        RetryBusyAsync(operation, _ => Task.FromResult(action()), cancellationToken);

    /// <summary>
    /// Runs <paramref name="action"/> under the shared retry policy: a call that finds the database busy or locked (after
    /// SQLite's own busy timeout) runs again from the start; every SQLite error is mapped to an SDK exception.
    /// </summary>
    private async Task<T> RetryBusyAsync<T>(string operation, Func<CancellationToken, Task<T>> action, CancellationToken cancellationToken)
    {
        try
        {
            return await _retry.ExecuteAsync(operation, ct =>
            {
                ct.ThrowIfCancellationRequested();
                return action(ct);
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException e) when (IsBusy(e))
        {
            _logger.StillBusy(e, operation, _retry.MaxAttempts);
            throw new CheckpointingException(
                $"SQLite {operation} on '{DataSource}' gave up after {_retry.MaxAttempts} attempts because another connection or process kept the database locked. " +
                "Retry later, or raise SqliteStoreOptions.BusyTimeout or MaxBusyRetries.", e);
        }
        catch (SqliteException e) when (e.SqliteErrorCode == SqliteReadOnly)
        {
            throw new SqliteDatabaseFileException(DataSource, SqliteDatabaseFileProblem.ReadOnly,
                $"SQLite {operation} on '{DataSource}' needs to write, but the database file or its folder is read-only; nothing was changed. " +
                "Reading works; to change anything, give this user write access to the file and its folder.", e);
        }
        catch (SqliteException e) when (e.SqliteErrorCode == SqliteNotADatabase)
        {
            throw NotADatabase(e);
        }
        catch (SqliteException e) when (e.SqliteErrorCode == SqliteCantOpen && SqliteStoreOptionsValidator.MissingFolder(DataSource) is { } folder)
        {
            throw new SqliteDatabaseFileException(DataSource, SqliteDatabaseFileProblem.MissingFolder, SqliteStoreOptionsValidator.MissingFolderMessage(DataSource, folder), e);
        }
        catch (SqliteException e)
        {
            throw new CheckpointingException($"SQLite {operation} on '{DataSource}' failed: {e.Message}", e);
        }
    }

    /// <summary>
    /// Refuses a database file that holds no database before anything writes to it: an empty file (a truncated
    /// database is not taken for a new store) or one whose header is not SQLite's. A missing file is created by the
    /// first migration. A file another process has just created and not yet written gets a moment to get its header.
    /// </summary>
    private async Task CheckDatabaseFileAsync(CancellationToken cancellationToken)
    {
        const int attempts = 10;
        for (var attempt = 1; ; attempt++)
        {
            var header = new byte[16];
            int read;
            try
            {
                using var file = new FileStream(DataSource, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                read = file.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
            }
            catch (FileNotFoundException)
            {
                return;
            }
            catch (DirectoryNotFoundException)
            {
                return;
            }

            if (read == header.Length)
            {
                if (header.AsSpan().SequenceEqual("SQLite format 3\0"u8))
                {
                    return;
                }

                throw NotADatabase(null);
            }

            if (attempt == attempts)
            {
                if (read > 0)
                {
                    throw NotADatabase(null);
                }

                throw new SqliteDatabaseFileException(DataSource, SqliteDatabaseFileProblem.Empty,
                    $"The SQLite database '{DataSource}' is an empty file (0 bytes), so it holds no checkpoints; it is not taken for a new store. " +
                    "If it was truncated, restore it from a backup; to start a new store, delete the file.");
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A WAL database needs its <c>-wal</c> and <c>-shm</c> files, which SQLite cannot create in a read-only folder, so
    /// an existing database there is opened as an immutable, read-only snapshot: reads work, and every write is
    /// refused with <see cref="SqliteDatabaseFileProblem.ReadOnly"/>.
    /// </summary>
    private void UseReadOnlySnapshotIfFolderIsReadOnly()
    {
        if (!ReferenceEquals(_openConnectionString, _connectionString) || !File.Exists(DataSource) || FolderIsWritable())
        {
            return;
        }

        var builder = new SqliteConnectionStringBuilder(_connectionString)
        {
            DataSource = new Uri(DataSource).AbsoluteUri + "?immutable=1",
            Mode = SqliteOpenMode.ReadOnly,
        };
        _openConnectionString = builder.ToString();
        _logger.OpenedReadOnly(DataSource);
    }

    private bool FolderIsWritable()
    {
        var probe = Path.Combine(Path.GetDirectoryName(DataSource)!, $".{Path.GetFileName(DataSource)}.{Guid.NewGuid():N}.probe");
        try
        {
            using var file = new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose);
            return true;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return false;
        }
    }

    private SqliteDatabaseFileException NotADatabase(Exception? cause) => new(DataSource, SqliteDatabaseFileProblem.NotADatabase,
        $"'{DataSource}' is not a SQLite database (it does not start with the SQLite header); nothing was changed. " +
        "Point the store at a checkpoints database, or move the file away to start a new store.", cause);

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, SqliteValues.ToDb(value));
        }

        return command;
    }

    private static int Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql, params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        return command.ExecuteNonQuery();
    }

    private static bool Exists(SqliteConnection connection, SqliteTransaction? transaction, string sql, params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        return command.ExecuteScalar() is not null;
    }

    private static List<T> Query<T>(SqliteConnection connection, SqliteTransaction? transaction, Func<SqliteDataReader, T> map, string sql, params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        using var reader = command.ExecuteReader();
        return ReadAll(reader, map);
    }

    private static List<T> ReadAll<T>(SqliteDataReader reader, Func<SqliteDataReader, T> map)
    {
        var list = new List<T>();
        while (reader.Read())
        {
            list.Add(map(reader));
        }

        return list;
    }

    private static T? QuerySingle<T>(SqliteConnection connection, SqliteTransaction? transaction, Func<SqliteDataReader, T> map, string sql, params ReadOnlySpan<(string Name, object? Value)> parameters)
        where T : class
    {
        using var command = Command(connection, transaction, sql, parameters);
        using var reader = command.ExecuteReader();
        return reader.Read() ? map(reader) : null;
    }

    private static async IAsyncEnumerable<string> Yield(List<string> items, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var item in items)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return item;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    private static string? Text(JsonElement? value) => value?.GetRawText();
}
