using Checkpointing.Conformance;

namespace Checkpointing.Tests.Conformance;

/// <summary>The runner conformance test on the in-memory store (one instance shared by both "processes").</summary>
public sealed class InMemoryRunnerTests : RunnerOnStoreConformanceTests
{
    private readonly InMemoryCheckpointStore _store = new();

    protected override void UseStore(CheckpointingBuilder builder) => builder.UseStore(_ => _store);
}
