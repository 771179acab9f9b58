using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Checkpointing.Sqlite.Tests;

/// <summary>What the SQLite store adds beyond the conformance suite: files, processes, migrations, locks.</summary>
public sealed class SqliteCheckpointStoreTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly TempDatabase _database = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _database.Dispose();

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
            Input = Json("{}"),
            Status = RunStatus.Queued,
            CreatedAt = T0,
            UpdatedAt = T0,
        };

    private static NewCheckpoint NewCheckpoint(Guid runId, string branch = "main") =>
        new()
        {
            Id = Guid.NewGuid(),
            RunId = runId,
            Branch = branch,
            Phase = 1,
            Artifacts = [new NewArtifact(Guid.NewGuid(), "spec", "spec", ArtifactContent.FromJson(Json("""{"v":1}""")), ArtifactMetadata.Empty)],
            CreatedAt = T0,
        };

    /// <summary>A second store on the same file that shares no connection pool with the first, like another process.</summary>
    private SqliteCheckpointStore OpenOtherProcess() =>
        new(new SqliteStoreOptions { ConnectionString = $"Data Source={_database.FilePath};Pooling=False" });

    private SqliteConnection OpenRaw()
    {
        var connection = new SqliteConnection($"Data Source={_database.FilePath};Pooling=False");
        connection.Open();
        return connection;
    }

    [Fact]
    public async Task A_second_store_on_the_same_file_sees_the_first_ones_writes()
    {
        using var first = _database.Open();
        using var second = OpenOtherProcess();
        var run = NewRun();
        await first.CreateRunAsync(run, Ct);
        var checkpoint = await first.CommitCheckpointAsync(NewCheckpoint(run.Id), Ct);

        var edited = await second.UpdateArtifactAsync(new ArtifactUpdate
        {
            CheckpointId = checkpoint.Id,
            Type = "spec",
            Key = "spec",
            ExpectedVersion = 1,
            Content = ArtifactContent.FromJson(Json("""{"v":2}""")),
            Metadata = ArtifactMetadata.Empty,
            UpdatedBy = "second",
            Reason = "edit",
            CostDelta = 0.5m,
            At = T0,
        }, Ct);

        Assert.Equal(run.Id, (await second.GetRunAsync(run.Id, Ct))!.Id);
        Assert.Equal(2, edited.Version);
        var seenByFirst = (await first.GetArtifactAsync(checkpoint.Id, "spec", "spec", Ct))!;
        Assert.Equal(2, seenByFirst.Version);
        Assert.Equal("second", seenByFirst.UpdatedBy);
        Assert.Equal(0.5m, (await first.GetRunAsync(run.Id, Ct))!.Cost);
        Assert.Equal(2, (await first.GetArtifactHistoryAsync(seenByFirst.Id, Ct)).Count);
    }

    [Fact]
    public async Task Data_survives_closing_and_reopening_the_file()
    {
        var run = NewRun();
        Guid checkpointId;
        using (var store = _database.Open())
        {
            await store.CreateRunAsync(run, Ct);
            checkpointId = (await store.CommitCheckpointAsync(NewCheckpoint(run.Id), Ct)).Id;
        }

        using var reopened = _database.Open();

        Assert.Equal("owner", (await reopened.GetRunAsync(run.Id, Ct))!.OwnerId);
        Assert.Equal(1, (await reopened.GetCheckpointAsync(checkpointId, Ct))!.Version);
        Assert.Equal(0, await reopened.MigrateAsync(Ct));
    }

    [Fact]
    public async Task Twenty_concurrent_forks_split_over_two_stores_get_twenty_distinct_names()
    {
        using var first = _database.Open();
        using var second = OpenOtherProcess();
        var run = NewRun();
        await first.CreateRunAsync(run, Ct);
        var checkpoint = await first.CommitCheckpointAsync(NewCheckpoint(run.Id), Ct);

        var branches = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(
            () => (i % 2 == 0 ? first : second).CreateBranchAsync(run.Id, "main", checkpoint.Id, T0, Ct), Ct)));

        Assert.Equal(
            Enumerable.Range(1, 20).Select(n => $"main-{n}").Order(StringComparer.Ordinal),
            branches.Select(b => b.Name).Order(StringComparer.Ordinal));
        Assert.Equal(21, (await second.ListBranchesAsync(run.Id, Ct)).Count);
    }

    [Fact]
    public async Task Concurrent_continuations_from_two_stores_fork_once()
    {
        using var first = _database.Open();
        using var second = OpenOtherProcess();
        var run = NewRun();
        await first.CreateRunAsync(run, Ct);
        var checkpoint = await first.CommitCheckpointAsync(NewCheckpoint(run.Id), Ct);

        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => Task.Run(
            () => (i % 2 == 0 ? first : second).ContinueAsync(new ContinuationRequest(checkpoint.Id, 0, Fork: true, T0), Ct), Ct)));

        Assert.Single(results, r => !r.Existing);
        Assert.All(results, r => Assert.Equal("main-1", r.Branch));
        Assert.Equal(["main", "main-1"], (await first.ListBranchesAsync(run.Id, Ct)).Select(b => b.Name));
    }

    [Fact]
    public async Task Migrations_record_their_version_and_applying_them_again_does_nothing()
    {
        using var first = _database.Open(o => o.ApplyMigrations = false);

        Assert.Equal(0, await first.GetSchemaVersionAsync(Ct));
        Assert.Equal(SqliteMigrator.Migrations.Count, await first.MigrateAsync(Ct));
        Assert.Equal(0, await first.MigrateAsync(Ct));
        using var second = _database.Open();
        Assert.Equal(0, await second.MigrateAsync(Ct));

        Assert.Equal(SqliteMigrator.LatestVersion, await second.GetSchemaVersionAsync(Ct));
        using var connection = OpenRaw();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT version, name FROM schema_version ORDER BY version;";
        using var reader = command.ExecuteReader();
        var rows = new List<(long, string)>();
        while (reader.Read())
        {
            rows.Add((reader.GetInt64(0), reader.GetString(1)));
        }

        Assert.Equal(SqliteMigrator.Migrations.Select(m => ((long)m.Version, m.Name)), rows);
        Assert.Equal((1L, "0001_initial"), rows[0]);
    }

    [Fact]
    public async Task Migrations_are_logged_and_timed_by_the_time_provider()
    {
        var logs = new ListLoggerFactory();
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero));
        using (var store = new SqliteCheckpointStore(new SqliteStoreOptions { DataSource = _database.FilePath }, logs, clock))
        {
            await store.GetRunAsync(Guid.NewGuid(), Ct);
        }

        using (var again = new SqliteCheckpointStore(new SqliteStoreOptions { DataSource = _database.FilePath }, logs))
        {
            await again.GetRunAsync(Guid.NewGuid(), Ct);
        }

        var applied = logs.Entries.Where(e => e.Id.Id == 1002).ToList();
        Assert.Equal(SqliteMigrator.Migrations.Count, applied.Count);
        Assert.All(applied, e => Assert.Equal(LogLevel.Information, e.Level));
        Assert.Equal(SqliteMigrator.Migrations.Select(m => $"SQLite migration {m.Version} ({m.Name}) applied to {_database.FilePath}"), applied.Select(e => e.Message));
        Assert.Equal("SQLite migration 1 (0001_initial) applied to " + _database.FilePath, applied[0].Message);
        Assert.Contains(logs.Entries, e => e.Id.Id == 1003 && e.Message.Contains($"at version {SqliteMigrator.LatestVersion}", StringComparison.Ordinal));
        using var connection = OpenRaw();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT applied_at FROM schema_version WHERE version = 1;";
        Assert.Equal("2030-01-02T03:04:05.0000000+00:00", command.ExecuteScalar());
    }

    [Fact]
    public async Task Stores_migrating_one_new_file_at_once_apply_each_migration_exactly_once()
    {
        var stores = Enumerable.Range(0, 4).Select(_ => OpenOtherProcess()).ToList();
        try
        {
            var applied = await Task.WhenAll(stores.Select(s => Task.Run(() => s.MigrateAsync(Ct), Ct)));

            Assert.Equal(SqliteMigrator.Migrations.Count, applied.Sum());
            Assert.All(stores, s => Assert.Equal(SqliteMigrator.LatestVersion, s.GetSchemaVersionAsync(Ct).GetAwaiter().GetResult()));
            var run = NewRun();
            await stores[0].CreateRunAsync(run, Ct);
            Assert.NotNull(await stores[3].GetRunAsync(run.Id, Ct));
        }
        finally
        {
            stores.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task Without_automatic_migrations_an_empty_database_is_refused_with_a_clear_message()
    {
        using var store = _database.Open(o => o.ApplyMigrations = false);

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => store.GetRunAsync(Guid.NewGuid(), Ct));

        Assert.Contains("schema version 0", e.Message, StringComparison.Ordinal);
        Assert.Contains("MigrateAsync", e.Message, StringComparison.Ordinal);
        await store.MigrateAsync(Ct);
        Assert.Null(await store.GetRunAsync(Guid.NewGuid(), Ct));
    }

    [Fact]
    public async Task The_database_runs_in_wal_mode()
    {
        using var store = _database.Open();
        await store.MigrateAsync(Ct);

        using var connection = OpenRaw();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";

        Assert.Equal("wal", command.ExecuteScalar() as string);
    }

    [Fact]
    public async Task A_plain_path_in_a_missing_folder_works()
    {
        var path = Path.Combine(_database.Folder, "nested", "deeper", "checkpoints.db");
        using var store = new SqliteCheckpointStore(new SqliteStoreOptions { DataSource = path });

        await store.CreateRunAsync(NewRun(), Ct);

        Assert.True(File.Exists(path));
        Assert.Equal(Path.GetFullPath(path), store.DataSource);
    }

    [Fact]
    public async Task A_write_waits_for_another_connection_to_release_its_lock()
    {
        using var store = _database.Open();
        await store.MigrateAsync(Ct);
        using var blocker = OpenRaw();
        using var transaction = blocker.BeginTransaction(deferred: false);
        var run = NewRun();

        var write = Task.Run(() => store.CreateRunAsync(run, Ct), Ct);
        await Task.Delay(300, Ct);
        Assert.False(write.IsCompleted);
        transaction.Commit();
        await write;

        Assert.NotNull(await store.GetRunAsync(run.Id, Ct));
    }

    [Fact]
    public async Task A_write_that_stays_locked_fails_with_an_sdk_exception_and_changes_nothing()
    {
        using var store = _database.Open(o =>
        {
            o.BusyTimeout = TimeSpan.Zero;
            o.MaxBusyRetries = 1;
        });
        await store.MigrateAsync(Ct);
        var run = NewRun();
        using (var blocker = OpenRaw())
        using (var transaction = blocker.BeginTransaction(deferred: false))
        {
            var e = await Assert.ThrowsAsync<CheckpointingException>(() => store.CreateRunAsync(run, Ct));

            var inner = Assert.IsType<SqliteException>(e.InnerException);
            Assert.Equal(5, inner.SqliteErrorCode);
            Assert.Contains("BusyTimeout", e.Message, StringComparison.Ordinal);
            transaction.Rollback();
        }

        Assert.Null(await store.GetRunAsync(run.Id, Ct));
        Assert.Empty(await store.ListBranchesAsync(run.Id, Ct));
    }

    [Fact]
    public async Task A_constraint_violation_becomes_InvalidStateException_and_rolls_the_whole_call_back()
    {
        using var store = _database.Open();
        await store.MigrateAsync(Ct);
        var run = NewRun();
        using (var connection = OpenRaw())
        using (var command = connection.CreateCommand())
        {
            // The run row is inserted first; the main branch insert then violates a constraint.
            command.CommandText = $"CREATE TRIGGER refuse_branch BEFORE INSERT ON branches WHEN NEW.run_id = '{run.Id}' BEGIN SELECT RAISE(ABORT, 'branch refused'); END;";
            command.ExecuteNonQuery();
        }

        var e = await Assert.ThrowsAsync<InvalidStateException>(() => store.CreateRunAsync(run, Ct));

        Assert.Contains("CreateRun", e.Message, StringComparison.Ordinal);
        Assert.Contains("branch refused", e.Message, StringComparison.Ordinal);
        Assert.Equal(19, Assert.IsType<Microsoft.Data.Sqlite.SqliteException>(e.InnerException).SqliteErrorCode);
        Assert.Null(await store.GetRunAsync(run.Id, Ct));
        Assert.Empty(await store.ListRunsAsync(null, 100, Ct));
    }

    [Fact]
    public async Task A_commit_reusing_an_artifact_id_of_another_checkpoint_is_refused_and_writes_nothing()
    {
        using var store = _database.Open();
        var run = NewRun();
        await store.CreateRunAsync(run, Ct);
        await store.SaveUnitAsync(run.Id, "exec-1", new CompletedUnit(1, new NewArtifact(Guid.NewGuid(), "beat", "beat_1", ArtifactContent.FromJson(Json("{}")), ArtifactMetadata.Empty, 1), 0.5m), null, Ct);
        var first = await store.CommitCheckpointAsync(NewCheckpoint(run.Id), Ct);
        var taken = (await store.GetArtifactsAsync(first.Id, Ct))[0].Id;
        var fresh = new NewArtifact(Guid.NewGuid(), "note", "note", ArtifactContent.FromJson(Json("""{"v":3}""")), ArtifactMetadata.Empty);
        var input = NewCheckpoint(run.Id) with
        {
            Artifacts = [fresh, new NewArtifact(taken, "spec", "spec", ArtifactContent.FromJson(Json("""{"v":2}""")), ArtifactMetadata.Empty)],
            RunCostDelta = 4m,
            ExecutionKey = "exec-1",
        };

        var e = await Assert.ThrowsAsync<InvalidStateException>(() => store.CommitCheckpointAsync(input, Ct));

        Assert.Equal($"Checkpoint '{input.Id}' or one of its artifacts already exists.", e.Message);
        Assert.Null(await store.GetCheckpointAsync(input.Id, Ct));
        Assert.Empty(await store.GetArtifactHistoryAsync(fresh.Id, Ct));
        Assert.Single(await store.GetArtifactHistoryAsync(taken, Ct));
        Assert.Equal(0.5m, (await store.GetRunAsync(run.Id, Ct))!.Cost);
        Assert.Single(await store.GetUnitsAsync(run.Id, "exec-1", Ct));
        Assert.Equal(2, (await store.CommitCheckpointAsync(NewCheckpoint(run.Id), Ct)).Version);
    }

    [Fact]
    public async Task Other_driver_errors_become_CheckpointingException_with_the_driver_error_inside()
    {
        using var store = _database.Open();
        await store.MigrateAsync(Ct);
        using (var connection = OpenRaw())
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "DROP TABLE journal_jobs;";
            command.ExecuteNonQuery();
        }

        var e = await Assert.ThrowsAsync<CheckpointingException>(() => store.SaveJobAsync(Guid.NewGuid(), "exec", "slot", "job", null, Ct));

        Assert.IsType<SqliteException>(e.InnerException);
        Assert.Contains("SaveJob", e.Message, StringComparison.Ordinal);
        Assert.Contains(_database.FilePath, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Money_and_times_round_trip_exactly()
    {
        using var store = _database.Open();
        var created = new DateTimeOffset(2026, 5, 1, 12, 0, 0, 123, TimeSpan.FromHours(-7)).AddTicks(4567);
        var run = NewRun() with { Cost = 0.1m, Budget = 79228162514264337593543950.335m, CreatedAt = created, UpdatedAt = created };
        await store.CreateRunAsync(run, Ct);
        await store.SaveUnitAsync(run.Id, "exec", new CompletedUnit(1, NewCheckpoint(run.Id).Artifacts[0], 0.2m), null, Ct);

        var read = (await store.GetRunAsync(run.Id, Ct))!;

        Assert.Equal(0.3m, read.Cost);
        Assert.Equal(79228162514264337593543950.335m, read.Budget);
        Assert.Equal(created, read.CreatedAt);
        Assert.Equal(created.Offset, read.CreatedAt.Offset);
        Assert.Equal(created.Ticks, read.CreatedAt.Ticks);
    }

    [Fact]
    public async Task A_disposed_store_refuses_calls()
    {
        var store = _database.Open();
        store.Dispose();
        store.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => store.GetRunAsync(Guid.NewGuid(), Ct));
    }
}
