using Checkpointing.Conformance;

namespace Checkpointing.Sqlite.Tests;

/// <summary>The SQLite store, on a fresh database file per test, against the store conformance suite.</summary>
public sealed class SqliteCheckpointStoreConformanceTests : CheckpointStoreConformanceTests
{
    private readonly TempDatabase _database = new();

    protected override Task<ICheckpointStore> CreateStoreAsync() => Task.FromResult<ICheckpointStore>(_database.Open());

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        _database.Dispose();
    }
}

/// <summary>
/// The suite again with every concurrent caller of the race tests on one of two store instances over the same file,
/// as two processes would be (the second shares no connection pool with the first): their writes are serialised by
/// SQLite's file lock, not by an in-process gate.
/// </summary>
public sealed class SqliteTwoInstancesConformanceTests : CheckpointStoreConformanceTests
{
    private readonly TempDatabase _database = new();
    private SqliteCheckpointStore? _second;

    protected override Task<ICheckpointStore> CreateStoreAsync()
    {
        var first = _database.Open();
        _second = new SqliteCheckpointStore(new SqliteStoreOptions { ConnectionString = $"Data Source={_database.FilePath};Pooling=False" });
        return Task.FromResult<ICheckpointStore>(first);
    }

    protected override ICheckpointStore StoreForCaller(int caller) => caller % 2 == 0 ? Store : _second!;

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        _second?.Dispose();
        _database.Dispose();
    }
}
