using System.Text.Json;
using Npgsql;

namespace Checkpointing.Postgres.Tests;

/// <summary>What the PostgreSQL store adds beyond the conformance suite: migrations, data sources, driver errors, retries.</summary>
public sealed class PostgresCheckpointStoreTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly string _schema = SchemaFixture.NewSchemaName();
    private NpgsqlDataSource? _admin;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private NpgsqlDataSource Admin => _admin!;

    public async ValueTask InitializeAsync()
    {
        await PostgresServer.RequireAsync();
        _admin = PostgresServer.CreateDataSource("checkpointing-tests-admin");
    }

    public async ValueTask DisposeAsync()
    {
        if (_admin is not null)
        {
            await SchemaFixture.DropSchemaAsync(_admin, _schema);
            await _admin.DisposeAsync();
        }
    }

    private static JsonElement Json(string text)
    {
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    private static Run NewRun(string owner = "owner") =>
        new()
        {
            Id = Guid.NewGuid(),
            Pipeline = "video",
            OwnerId = owner,
            Input = Json("""{"prompt":"x"}"""),
            Status = RunStatus.Queued,
            CreatedAt = T0,
            UpdatedAt = T0,
        };

    private static NewCheckpoint NewCheckpoint(Guid runId, params NewArtifact[] artifacts) =>
        new() { Id = Guid.NewGuid(), RunId = runId, Branch = "main", Phase = 1, Artifacts = artifacts.Length > 0 ? artifacts : [Spec()], CreatedAt = T0 };

    private static NewArtifact Spec(string key = "spec") =>
        new(Guid.NewGuid(), "spec", key, ArtifactContent.FromJson(Json("""{"v":1}""")), ArtifactMetadata.Empty);

    private PostgresCheckpointStore Open(NpgsqlDataSource? dataSource = null, Action<PostgresStoreOptions>? configure = null, ListLoggerFactory? logs = null)
    {
        var options = new PostgresStoreOptions { SchemaName = _schema };
        configure?.Invoke(options);
        return new PostgresCheckpointStore(dataSource ?? Admin, options, logs);
    }

    private async Task<long> CountAsync(string sql)
    {
        await using var command = Admin.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }

    [Fact]
    public async Task Migrations_record_their_version_and_applying_them_again_does_nothing()
    {
        await using var store = Open(configure: o => o.ApplyMigrations = false);

        Assert.Equal(0, await store.GetSchemaVersionAsync(Ct));
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => store.GetRunAsync(Guid.NewGuid(), Ct));
        Assert.Equal(
            $"The PostgreSQL schema '{_schema}' is at version 0, but this store needs version {PostgresMigrator.LatestVersion}. " +
            "Call PostgresCheckpointStore.MigrateAsync() once before use, or set PostgresStoreOptions.ApplyMigrations = true.",
            refused.Message);

        Assert.Equal(PostgresMigrator.LatestVersion, await store.MigrateAsync(Ct));
        Assert.Equal(0, await store.MigrateAsync(Ct));
        await using var again = Open();
        Assert.Equal(0, await again.MigrateAsync(Ct));

        Assert.Equal(PostgresMigrator.LatestVersion, await store.GetSchemaVersionAsync(Ct));
        Assert.Equal(PostgresMigrator.LatestVersion, await CountAsync($"SELECT COUNT(*) FROM \"{_schema}\".schema_version"));
        Assert.Equal(
            PostgresMigrator.Migrations.Select(m => m.Name),
            await ReadNamesAsync());
        Assert.Null(await store.GetRunAsync(Guid.NewGuid(), Ct));
    }

    private async Task<List<string>> ReadNamesAsync()
    {
        await using var command = Admin.CreateCommand($"SELECT name FROM \"{_schema}\".schema_version ORDER BY version");
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var names = new List<string>();
        while (await reader.ReadAsync(Ct))
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    [Fact]
    public async Task Four_stores_migrating_a_new_schema_at_once_apply_each_migration_exactly_once()
    {
        var dataSources = Enumerable.Range(0, 4).Select(i => PostgresServer.CreateDataSource($"checkpointing-tests-migrate-{i}")).ToList();
        try
        {
            var stores = dataSources.Select(d => Open(d)).ToList();
            using var start = new Barrier(stores.Count);
            var applied = await Task.WhenAll(stores.Select(s => Task.Run(async () =>
            {
                start.SignalAndWait(Ct);
                return await s.MigrateAsync(Ct);
            }, Ct)));

            Assert.Equal(PostgresMigrator.LatestVersion, applied.Sum());
            Assert.Equal(PostgresMigrator.LatestVersion, await CountAsync($"SELECT COUNT(*) FROM \"{_schema}\".schema_version"));

            // Every store works on the schema the others may have created.
            foreach (var store in stores)
            {
                var run = NewRun();
                await store.CreateRunAsync(run, Ct);
                Assert.NotNull(await stores[^1].GetRunAsync(run.Id, Ct));
            }

            foreach (var store in stores)
            {
                await store.DisposeAsync();
            }
        }
        finally
        {
            foreach (var dataSource in dataSources)
            {
                await dataSource.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Data_survives_a_new_data_source()
    {
        var run = NewRun();
        Guid checkpointId;
        await using (var dataSource = PostgresServer.CreateDataSource("checkpointing-tests-before"))
        await using (var store = Open(dataSource))
        {
            await store.CreateRunAsync(run, Ct);
            checkpointId = (await store.CommitCheckpointAsync(NewCheckpoint(run.Id), Ct)).Id;
            await store.UpdateArtifactAsync(new ArtifactUpdate
            {
                CheckpointId = checkpointId,
                Type = "spec",
                Key = "spec",
                ExpectedVersion = 1,
                Content = ArtifactContent.FromJson(Json("""{"v":2}""")),
                Metadata = ArtifactMetadata.Empty,
                UpdatedBy = "editor",
                Reason = "edit",
                CostDelta = 0.25m,
                At = T0.AddMinutes(1),
            }, Ct);
        }

        await using var fresh = PostgresServer.CreateDataSource("checkpointing-tests-after");
        await using var reopened = Open(fresh);

        Assert.Equal("owner", (await reopened.GetRunAsync(run.Id, Ct))!.OwnerId);
        Assert.Equal(0.25m, (await reopened.GetRunAsync(run.Id, Ct))!.Cost);
        var artifact = (await reopened.GetArtifactAsync(checkpointId, "spec", "spec", Ct))!;
        Assert.Equal(2, artifact.Version);
        Assert.Equal(2, (await reopened.GetArtifactHistoryAsync(artifact.Id, Ct)).Count);
        Assert.Equal(0, await reopened.MigrateAsync(Ct));
    }

    [Fact]
    public async Task A_store_built_from_a_connection_string_owns_and_closes_its_data_source()
    {
        var run = NewRun();
        await using (var store = new PostgresCheckpointStore(new PostgresStoreOptions { ConnectionString = PostgresServer.ConnectionString, SchemaName = _schema }))
        {
            await store.CreateRunAsync(run, Ct);
            await store.DisposeAsync();
            await Assert.ThrowsAsync<ObjectDisposedException>(() => store.GetRunAsync(run.Id, Ct));
        }

        await using var other = Open();
        Assert.NotNull(await other.GetRunAsync(run.Id, Ct));
    }

    [Fact]
    public async Task A_duplicate_run_id_is_mapped_from_the_unique_violation_with_the_driver_error_inside()
    {
        var logs = new ListLoggerFactory();
        await using var store = Open(logs: logs);
        var run = NewRun();
        await store.CreateRunAsync(run, Ct);

        var e = await Assert.ThrowsAsync<InvalidStateException>(() => store.CreateRunAsync(run with { OwnerId = "intruder" }, Ct));

        var inner = Assert.IsType<PostgresException>(e.InnerException);
        Assert.Equal(PostgresErrorCodes.UniqueViolation, inner.SqlState);
        Assert.Equal("runs_pkey", inner.ConstraintName);
        Assert.Equal("CreateRun was refused: A run with this id already exists; create the run with a new id.", e.Message);
        Assert.Equal("owner", (await store.GetRunAsync(run.Id, Ct))!.OwnerId);
        Assert.Contains(logs.Entries, x => x.Id.Id == 2007 && x.Message.Contains("23505", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Two_artifacts_with_one_type_and_key_are_refused_with_the_core_message_and_commit_nothing()
    {
        await using var store = Open();
        var run = NewRun();
        await store.CreateRunAsync(run, Ct);
        var input = NewCheckpoint(run.Id, Spec(), Spec());

        var e = await Assert.ThrowsAsync<InvalidStateException>(() => store.CommitCheckpointAsync(input, Ct));

        Assert.Equal("The checkpoint holds artifact 'spec/spec' twice; each type and key must be unique.", e.Message);
        Assert.Null(await store.GetCheckpointAsync(input.Id, Ct));
        Assert.Equal(0, await CountAsync($"SELECT COUNT(*) FROM \"{_schema}\".artifact_versions"));
        Assert.Equal(1, (await store.CommitCheckpointAsync(NewCheckpoint(run.Id), Ct)).Version);
    }

    [Fact]
    public async Task Json_money_and_times_use_native_postgres_types()
    {
        await using var store = Open();
        var run = NewRun() with { Cost = 1.10m, CreatedAt = T0.ToOffset(TimeSpan.FromHours(-5)) };
        await store.CreateRunAsync(run, Ct);
        var checkpoint = await store.CommitCheckpointAsync(NewCheckpoint(run.Id), Ct);

        await using var command = Admin.CreateCommand($"""
            SELECT pg_typeof(r.input)::text, pg_typeof(r.cost)::text, pg_typeof(r.created_at)::text, r.input->>'prompt',
                   r.created_at = '2026-05-01T12:00:00Z'::timestamptz, a.content->'Json'->>'v'
            FROM "{_schema}".runs r JOIN "{_schema}".checkpoints c ON c.run_id = r.id JOIN "{_schema}".artifacts a ON a.checkpoint_id = c.id
            WHERE c.id = @id
            """);
        command.Parameters.AddWithValue("id", checkpoint.Id);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        Assert.True(await reader.ReadAsync(Ct));
        Assert.Equal("jsonb", reader.GetString(0));
        Assert.Equal("numeric", reader.GetString(1));
        Assert.Equal("timestamp with time zone", reader.GetString(2));
        Assert.Equal("x", reader.GetString(3));
        Assert.True(reader.GetBoolean(4));
        Assert.Equal("1", reader.GetString(5));
        Assert.Equal(run.CreatedAt, (await store.GetRunAsync(run.Id, Ct))!.CreatedAt);
    }

    [Fact]
    public async Task A_deadlock_victim_is_retried_and_the_update_succeeds()
    {
        var logs = new ListLoggerFactory();
        await using var store = Open(logs: logs);
        var run = NewRun();
        await store.CreateRunAsync(run, Ct);
        var checkpoint = await store.CommitCheckpointAsync(NewCheckpoint(run.Id), Ct);

        // Another session locks the run row; the store's update then locks the checkpoint and waits for the run row.
        await using var other = await Admin.OpenConnectionAsync(Ct);
        await using var tx = await other.BeginTransactionAsync(Ct);
        await using (var slow = new NpgsqlCommand("SET LOCAL deadlock_timeout = '30s';", other, tx))
        {
            await slow.ExecuteNonQueryAsync(Ct); // this session never runs the deadlock check first: the store's session is the victim
        }

        await using (var lockRun = new NpgsqlCommand($"SELECT 1 FROM \"{_schema}\".runs WHERE id = @id FOR UPDATE;", other, tx))
        {
            lockRun.Parameters.AddWithValue("id", run.Id);
            await lockRun.ExecuteNonQueryAsync(Ct);
        }

        var update = store.UpdateArtifactAsync(new ArtifactUpdate
        {
            CheckpointId = checkpoint.Id,
            Type = "spec",
            Key = "spec",
            ExpectedVersion = 1,
            Content = ArtifactContent.FromJson(Json("""{"v":2}""")),
            Metadata = ArtifactMetadata.Empty,
            UpdatedBy = "editor",
            Reason = "edit",
            CostDelta = 0.5m,
            At = T0,
        }, Ct);
        await WaitUntilBlockedAsync();

        // Closing the cycle: this session now waits for the checkpoint row the store holds.
        await using (var lockCheckpoint = new NpgsqlCommand($"SELECT 1 FROM \"{_schema}\".checkpoints WHERE id = @id FOR UPDATE;", other, tx))
        {
            lockCheckpoint.Parameters.AddWithValue("id", checkpoint.Id);
            await lockCheckpoint.ExecuteNonQueryAsync(Ct);
        }

        await tx.CommitAsync(Ct);
        var updated = await update;

        Assert.Equal(2, updated.Version);
        Assert.Equal(0.5m, (await store.GetRunAsync(run.Id, Ct))!.Cost);
        Assert.Equal(2, (await store.GetArtifactHistoryAsync(updated.Id, Ct)).Count);
        Assert.Contains(logs.Entries, x => x.Id.Id == 2005 && x.Message.Contains("40P01", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Of_two_commits_that_waited_for_the_run_the_second_finds_its_version_taken_and_commits_at_the_next()
    {
        var logs = new ListLoggerFactory();
        await using var store = Open(logs: logs);
        var run = NewRun();
        await store.CreateRunAsync(run, Ct);
        await using var other = await Admin.OpenConnectionAsync(Ct);
        await using var tx = await other.BeginTransactionAsync(Ct);
        await using (var lockRun = new NpgsqlCommand($"SELECT 1 FROM \"{_schema}\".runs WHERE id = @id FOR UPDATE;", other, tx))
        {
            lockRun.Parameters.AddWithValue("id", run.Id);
            await lockRun.ExecuteNonQueryAsync(Ct);
        }

        // Both commits read the versions of the branch before the run's row is theirs: the one that gets it second
        // computes the version the first has just committed.
        var first = store.CommitCheckpointAsync(NewCheckpoint(run.Id), Ct);
        var second = store.CommitCheckpointAsync(NewCheckpoint(run.Id), Ct);
        await WaitUntilBlockedAsync(sessions: 2);
        await tx.RollbackAsync(Ct);
        var saved = await Task.WhenAll(first, second);

        Assert.Equal([1, 2], saved.Select(c => c.Version).Order());
        Assert.Equal([1, 2], (await store.ListCheckpointsAsync(run.Id, "main", Ct)).Select(c => c.Version).Order());
        Assert.Single(logs.Entries, x => x.Id.Id == 2011);
    }

    [Fact]
    public async Task Cancelling_a_call_that_waits_for_a_row_lock_stops_it_and_changes_nothing()
    {
        await using var store = Open();
        var run = NewRun();
        await store.CreateRunAsync(run, Ct);
        var checkpoint = await store.CommitCheckpointAsync(NewCheckpoint(run.Id), Ct);
        await using var other = await Admin.OpenConnectionAsync(Ct);
        await using var tx = await other.BeginTransactionAsync(Ct);
        await using (var lockRun = new NpgsqlCommand($"SELECT 1 FROM \"{_schema}\".runs WHERE id = @id FOR UPDATE;", other, tx))
        {
            lockRun.Parameters.AddWithValue("id", run.Id);
            await lockRun.ExecuteNonQueryAsync(Ct);
        }

        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var fork = store.CreateBranchAsync(run.Id, "main", checkpoint.Id, T0, cancel.Token);
        await WaitUntilBlockedAsync();
        await cancel.CancelAsync();

        // Without the token reaching the command the call would wait for the lock until the other session ends: fail after 10 s instead.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fork.WaitAsync(TimeSpan.FromSeconds(10), Ct));
        await tx.RollbackAsync(Ct);
        Assert.Equal(["main"], (await store.ListBranchesAsync(run.Id, Ct)).Select(b => b.Name));
    }

    private async Task WaitUntilBlockedAsync(int sessions = 1)
    {
        for (var i = 0; i < 200; i++)
        {
            await using var command = Admin.CreateCommand(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND strpos(query, @schema) > 0;");
            command.Parameters.AddWithValue("schema", _schema);
            if ((long)(await command.ExecuteScalarAsync(Ct))! >= sessions)
            {
                return;
            }

            await Task.Delay(25, Ct);
        }

        Assert.Fail("The store's update never waited for the run row lock.");
    }

    [Fact]
    public async Task A_missing_server_fails_with_a_message_that_says_how_to_get_one()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            PostgresServer.EnsureAvailableAsync("Host=127.0.0.1;Port=1;Username=nobody;Database=none", fromVariable: false));

        Assert.StartsWith("No PostgreSQL server answered at 127.0.0.1:1 as 'nobody' (the local default; CHECKPOINTING_POSTGRES is not set): ", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("Run ./test.sh, which starts a throwaway server, or set CHECKPOINTING_POSTGRES to the connection string of a server where you may create schemas.", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_store_on_an_unreachable_server_throws_a_checkpointing_exception_with_the_driver_error_inside()
    {
        await using var dataSource = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Username=nobody;Database=none;Timeout=2");
        await using var store = Open(dataSource);

        var e = await Assert.ThrowsAsync<CheckpointingException>(() => store.MigrateAsync(Ct));

        Assert.IsType<NpgsqlException>(e.InnerException, exactMatch: false);
        Assert.StartsWith("PostgreSQL Migrate failed: ", e.Message, StringComparison.Ordinal);
    }
}
