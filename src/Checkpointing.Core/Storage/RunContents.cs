namespace Checkpointing.Storage;

/// <summary>A run read together with its branches and checkpoints (see <see cref="ICheckpointStore.GetRunContentsAsync"/>).</summary>
public sealed record RunContents
{
    /// <summary>The run.</summary>
    public required Run Run { get; init; }

    /// <summary>The run's branches in creation order, as <see cref="ICheckpointStore.ListBranchesAsync"/> lists them.</summary>
    public required IReadOnlyList<Branch> Branches { get; init; }

    /// <summary>The run's checkpoints in creation order, as <see cref="ICheckpointStore.ListCheckpointsAsync"/> lists them.</summary>
    public required IReadOnlyList<Checkpoint> Checkpoints { get; init; }
}

/// <summary>A run read together with its latest checkpoint of one status (see <see cref="ICheckpointStore.GetLatestCheckpointAsync"/>).</summary>
public sealed record RunLatestCheckpoint
{
    /// <summary>The run.</summary>
    public required Run Run { get; init; }

    /// <summary>The run's last checkpoint in creation order that has the status asked for, or null when none has.</summary>
    public required Checkpoint? Checkpoint { get; init; }
}
