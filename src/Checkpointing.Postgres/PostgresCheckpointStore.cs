using System.Runtime.CompilerServices;
using System.Text.Json;
using Checkpointing.Relational;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;

namespace Checkpointing.Postgres;

/// <summary>
/// A metadata store on PostgreSQL, for hosts that share one database (several processes, several machines). Every
/// call is one transaction; branch names and checkpoint versions are allocated while the run's row is locked
/// (<c>SELECT … FOR UPDATE</c>), an artifact update locks the artifact's row and checks the expected version, and
/// unique or foreign-key violations become the SDK's exceptions with the <see cref="PostgresException"/> inside.
/// A call that fails with a serialization failure or a deadlock is run again from the start.
/// </summary>
/// <remarks>
/// Runs are owned through leases (<see cref="TryClaimRunAsync"/>, <see cref="ClaimNextRunAsync"/>): claims are conditional
/// updates, the next-work claim takes the oldest claimable run <c>FOR UPDATE SKIP LOCKED</c>, and every fenced write checks
/// the run's token in its own transaction. A checkpoint commit and a unit save cost one round trip each: the run's row is
/// locked and read, and the writes are made only while the token is the writer's, in the same implicit transaction. Events are appended to an ordered log, and <c>LISTEN</c>/<c>NOTIFY</c> wakes
/// waiting workers and event readers in other processes (<see cref="WaitForChangeAsync"/>).
/// </remarks>
/// <remarks>
/// The tables live in their own schema (<see cref="PostgresStoreOptions.SchemaName"/>), created or upgraded on first use
/// by numbered migrations recorded in a <c>schema_version</c> table (see <see cref="PostgresStoreOptions.ApplyMigrations"/>).
/// The store disposes the data source only when it built it from a connection string.
/// </remarks>
public sealed partial class PostgresCheckpointStore : ICheckpointStore, IAsyncDisposable, IDisposable
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.General);

    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _ownsDataSource;
    private readonly string _s;
    private readonly bool _applyMigrations;
    private readonly TransientRetry _retry;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _migrationGate = new(1, 1);
    private volatile bool _migrated;
    private bool _disposed;

    /// <summary>Creates the store on a data source the caller owns. Nothing is opened until the first call.</summary>
    /// <param name="dataSource">The Npgsql data source; not disposed by the store.</param>
    /// <param name="options">Schema, migrations and retries; the database settings of the options are ignored. Null for the defaults.</param>
    /// <param name="loggerFactory">Creates the store's logger; null for none.</param>
    /// <param name="timeProvider">The clock for the times the store records itself (when a migration was applied); null for the system clock.</param>
    /// <exception cref="InvalidOperationException">The options are not valid; the message says what to set.</exception>
    public PostgresCheckpointStore(NpgsqlDataSource dataSource, PostgresStoreOptions? options = null, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
        : this(dataSource ?? throw new ArgumentNullException(nameof(dataSource)), ownsDataSource: false, options ?? new PostgresStoreOptions(), loggerFactory, timeProvider, requireDatabase: false)
    {
    }

    /// <summary>Creates the store from options that set <see cref="PostgresStoreOptions.ConnectionString"/> or <see cref="PostgresStoreOptions.DataSource"/>.</summary>
    /// <param name="options">Where the database is, the schema, migrations and retries.</param>
    /// <param name="loggerFactory">Creates the store's logger (and the data source's, when the store builds it); null for none.</param>
    /// <param name="timeProvider">The clock for the times the store records itself; null for the system clock.</param>
    /// <exception cref="InvalidOperationException">The options are not valid, or name a keyed data source (resolve it yourself, or use <c>UsePostgres</c>).</exception>
    public PostgresCheckpointStore(PostgresStoreOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
        : this(CreateDataSource(options, loggerFactory, out var owns), owns, options, loggerFactory, timeProvider, requireDatabase: true)
    {
    }

    private PostgresCheckpointStore(NpgsqlDataSource dataSource, bool ownsDataSource, PostgresStoreOptions options, ILoggerFactory? loggerFactory, TimeProvider? timeProvider, bool requireDatabase)
    {
        var errors = PostgresStoreOptionsValidator.Check(options, requireDatabase);
        if (errors.Count > 0)
        {
            if (ownsDataSource)
            {
                dataSource.Dispose();
            }

            throw new InvalidOperationException(string.Join(" ", errors));
        }

        _dataSource = dataSource;
        _ownsDataSource = ownsDataSource;
        SchemaName = options.SchemaName;
        NotificationChannel = ChannelFor(options.SchemaName);
        _s = PostgresMigrator.Quote(options.SchemaName);
        _applyMigrations = options.ApplyMigrations;
        _time = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<PostgresCheckpointStore>();
        _retry = new TransientRetry(options.MaxTransientRetries, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(500), PostgresExceptionTransformer.IsTransient,
            (operation, e, attempt, delay) => _logger.TransientRetry(operation, PostgresExceptionTransformer.Describe(e), attempt, (int)delay.TotalMilliseconds));
        _logger.StoreOpened(SchemaName);
    }

    /// <summary>The schema that holds the store's tables.</summary>
    public string SchemaName { get; }

    /// <summary>
    /// Creates or upgrades the schema now. Runs automatically on first use unless
    /// <see cref="PostgresStoreOptions.ApplyMigrations"/> is false; safe to call again and from several processes at once.
    /// </summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The number of migrations this call applied (0 when the schema was up to date).</returns>
    /// <exception cref="CheckpointingException">PostgreSQL refused a migration; the inner exception says why.</exception>
    public async Task<int> MigrateAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _migrationGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var applied = await RetryAsync("Migrate", async ct =>
            {
                await using var connection = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
                return await PostgresMigrator.MigrateAsync(connection, SchemaName, _logger, _time.GetUtcNow(), ct).ConfigureAwait(false);
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
    /// <param name="cancellationToken">Cancels the operation.</param>
    internal Task<int> GetSchemaVersionAsync(CancellationToken cancellationToken = default) =>
        InTransactionAsync("GetSchemaVersion", db => PostgresMigrator.ReadVersionAsync(db.Connection, db.Transaction, SchemaName, db.Token), cancellationToken, migrate: false);

    /// <summary>
    /// Makes sure the store can serve a call now, the way a call would (migrating first when migrations are on), and
    /// reads the schema version: the health check's probe.
    /// </summary>
    /// <param name="cancellationToken">Cancels the probe.</param>
    /// <returns>The schema version.</returns>
    internal async Task<int> ProbeAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await EnsureMigratedAsync(cancellationToken).ConfigureAwait(false);
        return await GetSchemaVersionAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Disposes the data source when the store built it from a connection string.</summary>
    /// <returns>A task that completes when the data source is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await DisposeListenerAsync().ConfigureAwait(false);
        if (_ownsDataSource)
        {
            await _dataSource.DisposeAsync().ConfigureAwait(false);
        }

        _migrationGate.Dispose();
    }

    /// <summary>Disposes the data source when the store built it from a connection string.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        DisposeListener();
        if (_ownsDataSource)
        {
            _dataSource.Dispose();
        }

        _migrationGate.Dispose();
    }

    private static NpgsqlDataSource CreateDataSource(PostgresStoreOptions options, ILoggerFactory? loggerFactory, out bool owns)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = PostgresStoreOptionsValidator.Check(options, requireDatabase: true);
        if (errors.Count == 0 && options.DataSource is null && string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            errors.Add($"PostgresStoreOptions.DataSourceKey '{options.DataSourceKey}' names a keyed service, which only dependency injection can resolve; " +
                "use builder.UsePostgres(key), or pass the NpgsqlDataSource to the store's constructor.");
        }

        if (errors.Count > 0)
        {
            throw new InvalidOperationException(string.Join(" ", errors));
        }

        if (options.DataSource is not null)
        {
            owns = false;
            return options.DataSource;
        }

        owns = true;
        var builder = new NpgsqlDataSourceBuilder(options.ConnectionString);
        if (loggerFactory is not null)
        {
            builder.UseLoggerFactory(loggerFactory);
        }

        return builder.Build();
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
        if (version < PostgresMigrator.LatestVersion)
        {
            throw new InvalidOperationException(
                $"The PostgreSQL schema '{SchemaName}' is at version {version}, but this store needs version {PostgresMigrator.LatestVersion}. " +
                "Call PostgresCheckpointStore.MigrateAsync() once before use, or set PostgresStoreOptions.ApplyMigrations = true.");
        }

        _migrated = true;
    }

    /// <summary>Runs <paramref name="body"/> in one transaction on its own connection, committing when it returns; retried on transient errors.</summary>
    private async Task<T> InTransactionAsync<T>(string operation, Func<Db, Task<T>> body, CancellationToken cancellationToken, bool migrate = true)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (migrate)
        {
            await EnsureMigratedAsync(cancellationToken).ConfigureAwait(false);
        }

        return await RetryAsync(operation, async ct =>
        {
            await using var connection = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
            await using var transaction = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
            var result = await body(new Db(connection, transaction, ct)).ConfigureAwait(false);
            await CommitAsync(transaction, operation, ct).ConfigureAwait(false);
            return result;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs one statement outside an explicit transaction (it commits by itself): one round trip instead of a statement
    /// and a COMMIT. For calls that are a single statement, which PostgreSQL makes atomic on its own.
    /// </summary>
    private Task<T> InOneTripAsync<T>(string operation, Func<Db, Task<T>> body, CancellationToken cancellationToken) =>
        InOneTripAsync(operation, (db, _) => body(db), cancellationToken);

    /// <summary>
    /// Runs one statement, or one <see cref="NpgsqlBatch"/>, outside an explicit transaction: PostgreSQL runs a statement
    /// and the statements of a batch as one implicit transaction that their final message commits, so the call is atomic
    /// (all or nothing) and costs one round trip. Retried on transient errors like every call.
    /// </summary>
    /// <remarks>
    /// The commit travels with the statements, so a connection lost while they ran leaves unknown whether they were
    /// saved. The next attempt is then told (the body's second argument is true) and must recognise a write the lost
    /// attempt made before it writes again. A server error is never ambiguous: the implicit transaction was rolled back.
    /// </remarks>
    private async Task<T> InOneTripAsync<T>(string operation, Func<Db, bool, Task<T>> body, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await EnsureMigratedAsync(cancellationToken).ConfigureAwait(false);
        var outcomeUnknown = false;
        return await RetryAsync(operation, async ct =>
        {
            await using var connection = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
            try
            {
                return await body(new Db(connection, null, ct), outcomeUnknown).ConfigureAwait(false);
            }
            catch (NpgsqlException e) when (e is not PostgresException && PostgresExceptionTransformer.IsTransient(e))
            {
                outcomeUnknown = true;
                throw;
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Commits a call's transaction. A connection lost during the commit is not retried: the server may have committed
    /// before the connection dropped, so running the call again could apply it twice.
    /// </summary>
    private static async Task CommitAsync(NpgsqlTransaction transaction, string operation, CancellationToken cancellationToken)
    {
        try
        {
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NpgsqlException e) when (e is not PostgresException && PostgresExceptionTransformer.IsTransient(e))
        {
            throw new CheckpointingException(
                $"PostgreSQL {operation}: the connection was lost while committing ({e.Message}), so whether the change was saved is unknown. " +
                "Read the current state before repeating it.", e);
        }
    }

    /// <summary>
    /// Runs <paramref name="action"/> under the shared retry policy: a call that failed with a serialization failure, a
    /// deadlock or a lost connection runs again from the start on a new connection; every driver error is mapped to an
    /// SDK exception.
    /// </summary>
    private async Task<T> RetryAsync<T>(string operation, Func<CancellationToken, Task<T>> action, CancellationToken cancellationToken)
    {
        try
        {
            return await _retry.ExecuteAsync(operation, ct =>
            {
                ct.ThrowIfCancellationRequested();
                return action(ct);
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (NpgsqlException e) when (PostgresExceptionTransformer.IsTransient(e))
        {
            var reason = PostgresExceptionTransformer.Describe(e);
            _logger.GaveUp(e, operation, reason, _retry.MaxAttempts);
            throw new CheckpointingException(
                $"PostgreSQL {operation} gave up after {_retry.MaxAttempts} attempts that each failed with {reason}" +
                (e is PostgresException p ? $" ({p.MessageText}). " : $": {e.Message} ") +
                "Retry later, or raise PostgresStoreOptions.MaxTransientRetries.", e);
        }
        catch (PostgresException e)
        {
            var mapped = PostgresExceptionTransformer.Transform(e, operation);
            _logger.ConstraintViolation(e, operation, e.SqlState, e.ConstraintName);
            throw mapped;
        }
        catch (NpgsqlException e)
        {
            throw new CheckpointingException($"PostgreSQL {operation} failed: {e.Message}", e);
        }
    }

    private static NpgsqlCommand Command(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.Add(Parameter(name, value));
        }

        return command;
    }

    private static NpgsqlCommand Command(Db db, string sql, params ReadOnlySpan<(string Name, object? Value)> parameters) =>
        Command(db.Connection, db.Transaction, sql, parameters);

    private static NpgsqlBatchCommand BatchCommand(string sql, params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.Add(Parameter(name, value));
        }

        return command;
    }

    private static NpgsqlParameter Parameter(string name, object? value) => value switch
    {
        null => new NpgsqlParameter(name, DBNull.Value),
        Jsonb j => new NpgsqlParameter(name, NpgsqlDbType.Jsonb) { Value = (object?)j.Text ?? DBNull.Value },
        JsonbArray a => new NpgsqlParameter(name, NpgsqlDbType.Array | NpgsqlDbType.Jsonb) { Value = a.Texts },
        DateTimeOffset t => new NpgsqlParameter(name, NpgsqlDbType.TimestampTz) { Value = t.ToUniversalTime() },
        Enum e => new NpgsqlParameter(name, NpgsqlDbType.Text) { Value = e.ToString() },
        _ => new NpgsqlParameter(name, value),
    };

    private static async Task<int> ExecuteAsync(Db db, string sql, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(db, sql, parameters);
        return await command.ExecuteNonQueryAsync(db.Token).ConfigureAwait(false);
    }

    private static async Task<object?> ScalarAsync(Db db, string sql, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(db, sql, parameters);
        var value = await command.ExecuteScalarAsync(db.Token).ConfigureAwait(false);
        return value is DBNull ? null : value;
    }

    private static async Task<List<T>> QueryAsync<T>(Db db, Func<NpgsqlDataReader, T> map, string sql, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(db, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(db.Token).ConfigureAwait(false);
        return await ReadAllAsync(reader, map, db.Token).ConfigureAwait(false);
    }

    private static async Task<List<T>> ReadAllAsync<T>(NpgsqlDataReader reader, Func<NpgsqlDataReader, T> map, CancellationToken cancellationToken)
    {
        var list = new List<T>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(map(reader));
        }

        return list;
    }

    private static async Task<T?> QuerySingleAsync<T>(Db db, Func<NpgsqlDataReader, T> map, string sql, params (string Name, object? Value)[] parameters)
        where T : class
    {
        await using var command = Command(db, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(db.Token).ConfigureAwait(false);
        return await reader.ReadAsync(db.Token).ConfigureAwait(false) ? map(reader) : null;
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

    private static Jsonb ToJsonb<T>(T value) => new(JsonSerializer.Serialize(value, JsonOptions));

    private static Jsonb ToJsonb(JsonElement? value) => new(value?.GetRawText());

    private static T FromJson<T>(string text) =>
        JsonSerializer.Deserialize<T>(text, JsonOptions) ?? throw new InvalidOperationException($"The stored {typeof(T).Name} is null.");

    private static JsonElement Element(string text)
    {
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    /// <summary>The connection, transaction and cancellation token of one store call.</summary>
    /// <param name="Connection">The open connection.</param>
    /// <param name="Transaction">The call's transaction.</param>
    /// <param name="Token">Cancels the call's commands.</param>
    private readonly record struct Db(NpgsqlConnection Connection, NpgsqlTransaction? Transaction, CancellationToken Token);

    /// <summary>A JSON text sent as a <c>jsonb</c> parameter.</summary>
    /// <param name="Text">The JSON, or null for SQL NULL.</param>
    private sealed record Jsonb(string? Text);

    /// <summary>JSON texts sent as a <c>jsonb[]</c> parameter.</summary>
    /// <param name="Texts">The JSON values, one per element.</param>
    private sealed record JsonbArray(string[] Texts);
}
