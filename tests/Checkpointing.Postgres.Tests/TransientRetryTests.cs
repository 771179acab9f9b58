using System.Text.Json;
using Npgsql;

namespace Checkpointing.Postgres.Tests;

/// <summary>The shared retry policy on real server errors: serialization failures and connections the server cut.</summary>
public sealed class TransientRetryTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly string _schema = SchemaFixture.NewSchemaName();
    private readonly string _application = "checkpointing-retry-" + Guid.NewGuid().ToString("N")[..8];
    private NpgsqlDataSource? _admin;
    private NpgsqlDataSource? _storeSource;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private NpgsqlDataSource Admin => _admin!;

    public async ValueTask InitializeAsync()
    {
        await PostgresServer.RequireAsync();
        _admin = PostgresServer.CreateDataSource("checkpointing-tests-admin");
        _storeSource = PostgresServer.CreateDataSource(_application);
        await using var store = Open();
        await store.MigrateAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (_storeSource is not null)
        {
            await _storeSource.DisposeAsync();
        }

        if (_admin is not null)
        {
            await SchemaFixture.DropSchemaAsync(_admin, _schema);
            await _admin.DisposeAsync();
        }
    }

    private PostgresCheckpointStore Open(ListLoggerFactory? logs = null, int maxRetries = 10) =>
        new(_storeSource!, new PostgresStoreOptions { SchemaName = _schema, MaxTransientRetries = maxRetries }, logs);

    private static Run NewRun()
    {
        using var input = JsonDocument.Parse("{}");
        return new()
        {
            Id = Guid.NewGuid(),
            Pipeline = "video",
            OwnerId = "owner",
            Input = input.RootElement.Clone(),
            Status = RunStatus.Queued,
            CreatedAt = T0,
            UpdatedAt = T0,
        };
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var command = Admin.CreateCommand(sql);
        await command.ExecuteNonQueryAsync(Ct);
    }

    /// <summary>The next <paramref name="failures"/> run inserts fail with SQLSTATE <paramref name="sqlState"/>, raised by the server.</summary>
    private Task FailRunInsertsAsync(int failures, string sqlState) => ExecuteAsync($"""
        CREATE SEQUENCE "{_schema}".forced_failures;
        CREATE FUNCTION "{_schema}".force_failure() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            -- A sequence is not rolled back with the failed transaction, so it counts every attempt.
            IF nextval('"{_schema}".forced_failures') <= {failures} THEN
                RAISE EXCEPTION 'forced failure' USING ERRCODE = '{sqlState}';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER force_failure BEFORE INSERT ON "{_schema}".runs FOR EACH ROW EXECUTE FUNCTION "{_schema}".force_failure();
        """);

    private async Task<long> CountRunsAsync(Guid id)
    {
        await using var command = Admin.CreateCommand($"SELECT COUNT(*) FROM \"{_schema}\".runs WHERE id = @id;");
        command.Parameters.AddWithValue("id", id);
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }

    [Theory]
    [InlineData("40001")] // serialization_failure
    [InlineData("40P01")] // deadlock_detected
    public async Task A_call_that_fails_with_a_serialization_failure_or_a_deadlock_runs_again_and_succeeds(string sqlState)
    {
        var logs = new ListLoggerFactory();
        await using var store = Open(logs);
        await FailRunInsertsAsync(2, sqlState);
        var run = NewRun();

        await store.CreateRunAsync(run, Ct);

        Assert.Equal(1, await CountRunsAsync(run.Id));
        Assert.Equal(
            [$"PostgreSQL CreateRun: transient error {sqlState}, attempt 1", $"PostgreSQL CreateRun: transient error {sqlState}, attempt 2"],
            logs.Entries.Where(e => e.Id.Id == 2005).Select(e => e.Message[..e.Message.IndexOf(" retries", StringComparison.Ordinal)]));
    }

    [Fact]
    public async Task A_call_that_keeps_failing_gives_up_after_the_configured_retries_and_changes_nothing()
    {
        var logs = new ListLoggerFactory();
        await using var store = Open(logs, maxRetries: 2);
        await FailRunInsertsAsync(100, "40001");
        var run = NewRun();

        var e = await Assert.ThrowsAsync<CheckpointingException>(() => store.CreateRunAsync(run, Ct));

        Assert.Equal("40001", Assert.IsType<PostgresException>(e.InnerException).SqlState);
        Assert.Equal(
            "PostgreSQL CreateRun gave up after 3 attempts that each failed with 40001 (forced failure). Retry later, or raise PostgresStoreOptions.MaxTransientRetries.",
            e.Message);
        Assert.Equal(2, logs.Entries.Count(x => x.Id.Id == 2005));
        Assert.Contains(logs.Entries, x => x.Id.Id == 2008);
        Assert.Equal(0, await CountRunsAsync(run.Id));
    }

    [Fact]
    public async Task A_call_on_pooled_connections_the_server_terminated_runs_again_on_a_new_connection()
    {
        var logs = new ListLoggerFactory();
        await using var store = Open(logs);
        var first = NewRun();
        await store.CreateRunAsync(first, Ct);

        // The server ends every session of the store's pool (as a restart or a failover would); the pool does not know yet.
        await using (var terminate = Admin.CreateCommand("SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = @app;"))
        {
            terminate.Parameters.AddWithValue("app", _application);
            Assert.True((long)(await terminate.ExecuteScalarAsync(Ct))! >= 1);
        }

        var second = NewRun();
        await store.CreateRunAsync(second, Ct);

        Assert.Equal(1, await CountRunsAsync(second.Id));
        Assert.Contains(logs.Entries, x => x.Id.Id == 2005 && x.Message.StartsWith("PostgreSQL CreateRun: transient error ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Errors_that_are_not_transient_are_not_run_again()
    {
        var logs = new ListLoggerFactory();
        await using var store = Open(logs);
        await FailRunInsertsAsync(1, "22023"); // invalid_parameter_value
        var run = NewRun();

        var e = await Assert.ThrowsAsync<CheckpointingException>(() => store.CreateRunAsync(run, Ct));

        Assert.Equal("22023", Assert.IsType<PostgresException>(e.InnerException).SqlState);
        Assert.DoesNotContain(logs.Entries, x => x.Id.Id == 2005);
        Assert.Equal(0, await CountRunsAsync(run.Id));
    }
}
