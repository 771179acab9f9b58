using Checkpointing.Conformance;

namespace Checkpointing.Sqlite.Tests;

/// <summary>Core's runner and editor on the SQLite store; the second "process" reopens the same file.</summary>
public sealed class EndToEndTests : RunnerOnStoreConformanceTests
{
    private readonly TempDatabase _database = new();

    protected override void UseStore(CheckpointingBuilder builder) => builder.UseSqlite(_database.FilePath);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        _database.Dispose();
    }
}
