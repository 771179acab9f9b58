using Checkpointing.Conformance;

namespace Checkpointing.Tests.Conformance;

/// <summary>The runner's bad-input conformance tests on the in-memory store.</summary>
public sealed class InMemoryRunnerInputTests : RunnerInputConformanceTests
{
    private readonly InMemoryCheckpointStore _store = new();

    protected override void UseStore(CheckpointingBuilder builder) => builder.UseStore(_ => _store);
}
