using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Checkpointing.Sqlite;

/// <summary>
/// A metadata store in a SQLite database file: the zero-setup default that survives restarts. Safe for several
/// threads and several processes on one file: the database runs in WAL mode (readers never block the writer), every
/// write is one <c>BEGIN IMMEDIATE</c> transaction (branch names and checkpoint versions are allocated inside it), and
/// a write that finds the database busy or locked waits for <see cref="SqliteStoreOptions.BusyTimeout"/> and is then
/// retried from the start.
/// </summary>
/// <remarks>
/// The schema is created or upgraded on first use by numbered migrations recorded in a <c>schema_version</c> table
/// (see <see cref="SqliteStoreOptions.ApplyMigrations"/>). Dispose the store to close its pooled connections.
/// </remarks>
public sealed partial class SqliteCheckpointStore : ICheckpointStore, IDisposable
{
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;
    private const int SqliteConstraint = 19;

    private readonly string _connectionString;
    private readonly int _busyTimeoutMs;
    private readonly int _maxBusyRetries;
    private readonly bool _applyMigrations;
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
        _connectionString = options.BuildConnectionString();
        DataSource = new SqliteConnectionStringBuilder(_connectionString).DataSource;
        _busyTimeoutMs = (int)options.BusyTimeout.TotalMilliseconds;
        _maxBusyRetries = options.MaxBusyRetries;
        _applyMigrations = options.ApplyMigrations;
        _time = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<SqliteCheckpointStore>();
        var folder = Path.GetDirectoryName(DataSource);
        if (!string.IsNullOrEmpty(folder))
        {
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
            var applied = await RetryBusyAsync("migrate", () =>
            {
                using var connection = Open();
                return SqliteMigrator.Migrate(connection, _logger, DataSource, _time.GetUtcNow());
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
        ReadAsync((connection, transaction) =>
        {
            using var exists = Command(connection, transaction, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version';");
            return Convert.ToInt64(exists.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 0
                ? 0
                : SqliteMigrator.ReadVersion(connection, transaction);
        }, cancellationToken, migrate: false);

    /// <summary>Closes the pooled connections to the database file.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        using (var connection = new SqliteConnection(_connectionString))
        {
            SqliteConnection.ClearPool(connection);
        }

        _writeGate.Dispose();
        _migrationGate.Dispose();
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            connection.Open();
            using var pragma = connection.CreateCommand();
            pragma.CommandText = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"PRAGMA busy_timeout = {_busyTimeoutMs};");
            pragma.ExecuteNonQuery();
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

        var version = await GetSchemaVersionAsync(cancellationToken).ConfigureAwait(false);
        if (version < SqliteMigrator.LatestVersion)
        {
            throw new InvalidOperationException(
                $"The SQLite database '{DataSource}' is at schema version {version}, but this store needs version {SqliteMigrator.LatestVersion}. " +
                "Call SqliteCheckpointStore.MigrateAsync() once before use, or set SqliteStoreOptions.ApplyMigrations = true.");
        }

        _migrated = true;
    }

    /// <summary>Runs <paramref name="body"/> in a <c>BEGIN IMMEDIATE</c> transaction, committing when it returns.</summary>
    private async Task<T> WriteAsync<T>(string operation, Func<SqliteConnection, SqliteTransaction, T> body, CancellationToken cancellationToken)
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

    /// <summary>Runs <paramref name="body"/> in a read transaction, so it sees one consistent snapshot.</summary>
    private async Task<T> ReadAsync<T>(Func<SqliteConnection, SqliteTransaction, T> body, CancellationToken cancellationToken, bool migrate = true)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (migrate)
        {
            await EnsureMigratedAsync(cancellationToken).ConfigureAwait(false);
        }

        return await RetryBusyAsync("read", () =>
        {
            using var connection = Open();
            using var transaction = connection.BeginTransaction(deferred: true);
            var result = body(connection, transaction);
            transaction.Commit();
            return result;
        }, cancellationToken).ConfigureAwait(false);
    }

    private async Task<T> RetryBusyAsync<T>(string operation, Func<T> action, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                return action();
            }
            catch (SqliteException e) when (e.SqliteErrorCode is SqliteBusy or SqliteLocked && attempt <= _maxBusyRetries)
            {
                var delay = Math.Min(1000, 20 << Math.Min(attempt, 6)) + Random.Shared.Next(20);
                _logger.BusyRetry(operation, e.SqliteErrorCode, attempt, delay);
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            }
            catch (SqliteException e) when (e.SqliteErrorCode is SqliteBusy or SqliteLocked)
            {
                _logger.StillBusy(e, operation, attempt);
                throw new CheckpointingException(
                    $"SQLite {operation} on '{DataSource}' gave up after {attempt} attempts because another connection or process kept the database locked. " +
                    "Retry later, or raise SqliteStoreOptions.BusyTimeout or MaxBusyRetries.", e);
            }
            catch (SqliteException e)
            {
                throw new CheckpointingException($"SQLite {operation} on '{DataSource}' failed: {e.Message}", e);
            }
        }
    }

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
