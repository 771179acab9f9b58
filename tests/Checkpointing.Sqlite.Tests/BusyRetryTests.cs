using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Checkpointing.Sqlite.Tests;

/// <summary>The shared retry policy on a real SQLITE_BUSY: another connection holds the write lock.</summary>
public sealed class BusyRetryTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly TempDatabase _database = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _database.Dispose();

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

    private SqliteCheckpointStore Open(ListLoggerFactory logs, int maxBusyRetries) =>
        new(new SqliteStoreOptions
        {
            DataSource = _database.FilePath,
            BusyTimeout = TimeSpan.Zero, // SQLite answers SQLITE_BUSY at once; only the store's policy waits.
            MaxBusyRetries = maxBusyRetries,
        }, logs);

    private SqliteConnection HoldWriteLock(out SqliteTransaction transaction)
    {
        var connection = new SqliteConnection($"Data Source={_database.FilePath};Pooling=False");
        connection.Open();
        transaction = connection.BeginTransaction(deferred: false); // BEGIN IMMEDIATE: the write lock until commit
        return connection;
    }

    [Fact]
    public async Task A_write_that_finds_the_database_busy_is_run_again_and_succeeds_once_the_lock_is_released()
    {
        var logs = new ListLoggerFactory();
        using var store = Open(logs, maxBusyRetries: 50);
        await store.MigrateAsync(Ct);
        var run = NewRun();

        using var blocker = HoldWriteLock(out var transaction);
        var write = store.CreateRunAsync(run, Ct);
        for (var i = 0; i < 500 && !logs.Entries.Any(e => e.Id.Id == 1005); i++)
        {
            await Task.Delay(10, Ct);
        }

        Assert.False(write.IsCompleted);
        transaction.Commit();
        await write;

        Assert.Equal(run.Id, (await store.GetRunAsync(run.Id, Ct))!.Id);
        var retries = logs.Entries.Where(e => e.Id.Id == 1005).ToList();
        Assert.NotEmpty(retries);
        Assert.All(retries, e => Assert.StartsWith("SQLite CreateRun: database busy (error 5), attempt ", e.Message, StringComparison.Ordinal));
        Assert.Equal(Enumerable.Range(1, retries.Count), retries.Select(e => int.Parse(e.Message.Split("attempt ")[1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task Without_retries_a_busy_write_fails_at_once_with_an_sdk_exception_and_changes_nothing()
    {
        var logs = new ListLoggerFactory();
        using var store = Open(logs, maxBusyRetries: 0);
        await store.MigrateAsync(Ct);
        var run = NewRun();

        using (var blocker = HoldWriteLock(out var transaction))
        {
            var e = await Assert.ThrowsAsync<CheckpointingException>(() => store.CreateRunAsync(run, Ct));

            Assert.Equal(5, Assert.IsType<SqliteException>(e.InnerException).SqliteErrorCode);
            Assert.StartsWith($"SQLite CreateRun on '{_database.FilePath}' gave up after 1 attempts because another connection or process kept the database locked.", e.Message, StringComparison.Ordinal);
            transaction.Rollback();
        }

        Assert.DoesNotContain(logs.Entries, e => e.Id.Id == 1005);
        Assert.Null(await store.GetRunAsync(run.Id, Ct));
    }

    [Fact]
    public async Task Cancelling_a_write_while_it_waits_to_retry_stops_it_and_changes_nothing()
    {
        var logs = new ListLoggerFactory();
        using var store = Open(logs, maxBusyRetries: 1000);
        await store.MigrateAsync(Ct);
        var run = NewRun();
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        using (var blocker = HoldWriteLock(out var transaction))
        {
            var write = store.CreateRunAsync(run, cancel.Token);
            for (var i = 0; i < 500 && !logs.Entries.Any(e => e.Id.Id == 1005); i++)
            {
                await Task.Delay(10, Ct);
            }

            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => write);
            transaction.Rollback();
        }

        Assert.Null(await store.GetRunAsync(run.Id, Ct));
    }
}
