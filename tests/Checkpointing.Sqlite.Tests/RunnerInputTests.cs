using Checkpointing.Conformance;

namespace Checkpointing.Sqlite.Tests;

/// <summary>The runner's bad-input conformance tests on the SQLite store.</summary>
public sealed class RunnerInputTests : RunnerInputConformanceTests
{
    private readonly TempDatabase _database = new();

    protected override void UseStore(CheckpointingBuilder builder) => builder.UseSqlite(_database.FilePath);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        _database.Dispose();
    }
}
