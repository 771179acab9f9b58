using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Npgsql;

namespace Checkpointing.Postgres.Tests;

/// <summary>
/// The shared retry policy on real server errors (serialization failures, connections the server cut) and on answers
/// lost on the way back, after the server committed.
/// </summary>
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
    private Task FailRunInsertsAsync(int failures, string sqlState) => FailInsertsAsync("runs", failures, sqlState);

    /// <summary>The next <paramref name="failures"/> inserts into <paramref name="table"/> fail with SQLSTATE <paramref name="sqlState"/>.</summary>
    private Task FailInsertsAsync(string table, int failures, string sqlState) => ExecuteAsync($"""
        CREATE SEQUENCE "{_schema}".forced_failures;
        CREATE FUNCTION "{_schema}".force_failure() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            -- A sequence is not rolled back with the failed transaction, so it counts every attempt.
            IF nextval('"{_schema}".forced_failures') <= {failures} THEN
                RAISE EXCEPTION 'forced failure' USING ERRCODE = '{sqlState}';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER force_failure BEFORE INSERT ON "{_schema}".{table} FOR EACH ROW EXECUTE FUNCTION "{_schema}".force_failure();
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
    public async Task A_commit_that_fails_with_a_serialization_failure_runs_again_and_is_saved_once()
    {
        var logs = new ListLoggerFactory();
        await using var store = Open(logs);
        var run = NewRun();
        await store.CreateRunAsync(run, Ct);
        var token = (await store.TryClaimRunAsync(run.Id, "worker", T0, T0.AddMinutes(1), Ct))!.LeaseToken;
        await FailInsertsAsync("artifact_versions", 2, "40001"); // the last insert of the commit's statement
        using var content = JsonDocument.Parse("""{"v":1}""");
        var input = new NewCheckpoint
        {
            Id = Guid.NewGuid(),
            RunId = run.Id,
            Branch = "main",
            Phase = 1,
            Cost = 1m,
            CreatedBy = "worker",
            Artifacts = [new NewArtifact(Guid.NewGuid(), "spec", "spec", ArtifactContent.FromJson(content.RootElement.Clone()), ArtifactMetadata.Empty)],
            RunCostDelta = 1m,
            CreatedAt = T0,
            FencingToken = token,
        };

        var saved = await store.CommitCheckpointAsync(input, Ct);

        Assert.Equal(1, saved.Version);
        Assert.Equal(2, logs.Entries.Count(e => e.Id.Id == 2005 && e.Message.StartsWith("PostgreSQL CommitCheckpoint: transient error 40001", StringComparison.Ordinal)));
        Assert.Equal(input.Id, Assert.Single(await store.ListCheckpointsAsync(run.Id, null, Ct)).Id);
        Assert.Single(await store.GetArtifactHistoryAsync(input.Artifacts[0].Id, Ct));
        Assert.Equal(1m, (await store.GetRunAsync(run.Id, Ct))!.Cost);
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
    [Fact]
    public async Task A_commit_whose_answer_was_lost_is_found_by_the_retry_and_saved_once()
    {
        var logs = new ListLoggerFactory();
        await using var proxy = new AnswerCuttingProxy(PostgresServer.ConnectionString);
        await using var source = NpgsqlDataSource.Create(proxy.ConnectionString);
        await using var store = new PostgresCheckpointStore(source, new PostgresStoreOptions { SchemaName = _schema }, logs);
        var run = NewRun();
        await store.CreateRunAsync(run, Ct);
        using var content = JsonDocument.Parse("""{"v":1}""");
        var input = new NewCheckpoint
        {
            Id = Guid.NewGuid(),
            RunId = run.Id,
            Branch = "main",
            Phase = 1,
            Cost = 2m,
            CreatedBy = "worker",
            Artifacts = [new NewArtifact(Guid.NewGuid(), "spec", "spec", ArtifactContent.FromJson(content.RootElement.Clone()), ArtifactMetadata.Empty)],
            RunCostDelta = 2m,
            CreatedAt = T0,
        };

        // The server commits the checkpoint; its answer never reaches the store, which cannot tell whether it was saved.
        proxy.CutNextAnswer();
        var saved = await store.CommitCheckpointAsync(input, Ct);

        Assert.Equal(1, proxy.Cuts);
        Assert.Contains(logs.Entries, x => x.Id.Id == 2005 && x.Message.StartsWith("PostgreSQL CommitCheckpoint: transient error ", StringComparison.Ordinal));
        Assert.Equal((input.Id, 1, 2m), (saved.Id, saved.Version, saved.Cost));
        Assert.Equal(input.Id, Assert.Single(await store.ListCheckpointsAsync(run.Id, null, Ct)).Id);
        Assert.Single(await store.GetArtifactsAsync(input.Id, Ct));
        Assert.Equal(2m, (await store.GetRunAsync(run.Id, Ct))!.Cost);
    }

    [Fact]
    public async Task A_unit_save_whose_answer_was_lost_is_saved_again_without_adding_its_cost_twice()
    {
        await using var proxy = new AnswerCuttingProxy(PostgresServer.ConnectionString);
        await using var source = NpgsqlDataSource.Create(proxy.ConnectionString);
        await using var store = new PostgresCheckpointStore(source, new PostgresStoreOptions { SchemaName = _schema });
        var run = NewRun();
        await store.CreateRunAsync(run, Ct);
        var token = (await store.TryClaimRunAsync(run.Id, "worker", T0, T0.AddMinutes(1), Ct))!.LeaseToken;
        using var content = JsonDocument.Parse("""{"v":1}""");
        var unit = new CompletedUnit(1, new NewArtifact(Guid.NewGuid(), "beat", "beat_1", ArtifactContent.FromJson(content.RootElement.Clone()), ArtifactMetadata.Empty, 1), 0.75m);

        proxy.CutNextAnswer();
        await store.SaveUnitAsync(run.Id, "exec", unit, token, Ct);

        Assert.Equal(1, proxy.Cuts);
        Assert.Equal(0.75m, Assert.Single(await store.GetUnitsAsync(run.Id, "exec", Ct)).Cost);
        Assert.Equal(0.75m, (await store.GetRunAsync(run.Id, Ct))!.Cost);
    }

    /// <summary>
    /// A TCP proxy in front of the test server that, when asked, drops the server's next complete answer (the chunk that
    /// ends with ReadyForQuery, which the server sends once the statements before it are committed) and closes that
    /// connection, as a network failure right after the commit would.
    /// </summary>
    private sealed class AnswerCuttingProxy : IAsyncDisposable
    {
        private static readonly byte[] ReadyForQuery = [(byte)'Z', 0, 0, 0, 5];
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly string _host;
        private readonly int _port;
        private readonly Task _accepting;
        private int _armed;
        private int _cuts;

        public AnswerCuttingProxy(string serverConnectionString)
        {
            var server = new NpgsqlConnectionStringBuilder(serverConnectionString);
            (_host, _port) = (server.Host!, server.Port);
            _listener.Start();
            server.Host = "127.0.0.1";
            server.Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            server.ApplicationName = "checkpointing-tests-proxy";
            server.MaxPoolSize = 5;
            ConnectionString = server.ConnectionString;
            _accepting = AcceptAsync();
        }

        public string ConnectionString { get; }

        public int Cuts => Volatile.Read(ref _cuts);

        public void CutNextAnswer() => Volatile.Write(ref _armed, 1);

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _accepting;
            _stop.Dispose();
        }

        private async Task AcceptAsync()
        {
            var connections = new List<Task>();
            try
            {
                while (true)
                {
                    connections.Add(ServeAsync(await _listener.AcceptTcpClientAsync(_stop.Token)));
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }

            await Task.WhenAll(connections);
        }

        private async Task ServeAsync(TcpClient client)
        {
            using (client)
            using (var server = new TcpClient())
            {
                try
                {
                    await server.ConnectAsync(_host, _port, _stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException)
                {
                    return;
                }

                // Disposing both ends as soon as one direction ends closes the other.
                await Task.WhenAny(PumpAsync(client.GetStream(), server.GetStream(), cut: false), PumpAsync(server.GetStream(), client.GetStream(), cut: true));
            }
        }

        private async Task PumpAsync(NetworkStream from, NetworkStream to, bool cut)
        {
            var buffer = new byte[64 * 1024];
            try
            {
                while (await from.ReadAsync(buffer, _stop.Token) is var read and > 0)
                {
                    if (cut && read > ReadyForQuery.Length && buffer.AsSpan(read - ReadyForQuery.Length - 1, ReadyForQuery.Length).SequenceEqual(ReadyForQuery)
                        && Interlocked.CompareExchange(ref _armed, 0, 1) == 1)
                    {
                        Interlocked.Increment(ref _cuts);
                        return;
                    }

                    await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }
    }
}
