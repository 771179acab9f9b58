using Checkpointing.Conformance;

namespace Checkpointing.Postgres.Tests;

/// <summary>The PostgreSQL store, on a schema of its own emptied before every test, against the store conformance suite.</summary>
public sealed class PostgresCheckpointStoreConformanceTests(SchemaFixture fixture) : CheckpointStoreConformanceTests, IClassFixture<SchemaFixture>
{
    protected override async Task<ICheckpointStore> CreateStoreAsync()
    {
        await fixture.ResetAsync();
        return fixture.OpenStore();
    }
}

/// <summary>
/// The suite again with the concurrent callers of the race tests split over two store instances on two data sources
/// (two connection pools, as two processes would have): only PostgreSQL's row locks keep them apart.
/// </summary>
public sealed class PostgresTwoDataSourcesConformanceTests(SchemaFixture fixture) : CheckpointStoreConformanceTests, IClassFixture<SchemaFixture>
{
    private PostgresCheckpointStore? _second;

    protected override async Task<ICheckpointStore> CreateStoreAsync()
    {
        await fixture.ResetAsync();
        _second = fixture.OpenStore(fixture.Second);
        return fixture.OpenStore(fixture.First);
    }

    protected override ICheckpointStore StoreForCaller(int caller) => caller % 2 == 0 ? Store : _second!;

    public override async ValueTask DisposeAsync()
    {
        if (_second is not null)
        {
            await _second.DisposeAsync();
        }

        await base.DisposeAsync();
    }
}
