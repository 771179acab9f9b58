using Checkpointing.Conformance;

namespace Checkpointing.Tests.Conformance;

/// <summary>The in-memory store against the store conformance suite.</summary>
public sealed class InMemoryCheckpointStoreConformanceTests : CheckpointStoreConformanceTests
{
    protected override Task<ICheckpointStore> CreateStoreAsync() => Task.FromResult<ICheckpointStore>(new InMemoryCheckpointStore());
}
