namespace Checkpointing.Internal;

/// <summary>
/// The artifact versions a phase consumes, resolved from its lineage when first asked for (a phase that reads no input
/// costs nothing per artifact): the parent's artifacts at the pinned revision, then the parent's own inputs, and so on
/// up to phase 1. Shared by the contexts of one phase execution; safe to use concurrently.
/// </summary>
internal sealed class PhaseInputs(Storage.ICheckpointStore store, Checkpoint? parent, long? parentRevision)
{
    private Task<Resolved>? _resolved;

    public Checkpoint? Parent => parent;

    /// <summary>The parent's revision the phase consumes (when not given: the parent's revision as read).</summary>
    public long? ParentRevision => parent is null ? null : parentRevision ?? parent.Revision;

    public async Task<Resolved> GetAsync(CancellationToken cancellationToken)
    {
        var task = Volatile.Read(ref _resolved);
        if (task is null || task.IsFaulted || task.IsCanceled)
        {
            var fresh = ResolveAsync();
            task = Interlocked.CompareExchange(ref _resolved, fresh, task) == task ? fresh : Volatile.Read(ref _resolved)!;
        }

        return await task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<Resolved> ResolveAsync()
    {
        if (parent is null)
        {
            return Resolved.Empty;
        }

        return new Resolved(await ResolveAsync(store, parent, ParentRevision!.Value, CancellationToken.None).ConfigureAwait(false));
    }

    /// <summary>
    /// The pins of everything a phase continuing <paramref name="checkpoint"/> at <paramref name="revision"/> consumes,
    /// lowest phase first: one read of the checkpoint's artifacts at the revision per checkpoint of the lineage.
    /// </summary>
    public static async Task<IReadOnlyList<ArtifactPin>> ResolveAsync(Storage.ICheckpointStore store, Checkpoint checkpoint, long revision, CancellationToken cancellationToken)
    {
        var levels = new List<IReadOnlyList<ArtifactPin>>();
        Checkpoint? current = checkpoint;
        long? at = revision;
        while (current is not null)
        {
            if (levels.Count > 100_000)
            {
                throw new InvalidStateException($"The lineage of checkpoint '{checkpoint.Id}' does not end; the store holds a cycle of parents.");
            }

            var owner = current;
            var artifacts = await store.GetArtifactsAsync(owner.Id, at ?? owner.Revision, cancellationToken).ConfigureAwait(false);
            levels.Add(artifacts.Select(a => new ArtifactPin(a.Id, owner.Id, owner.Phase, a.Type, a.Key, a.Version)).ToList());
            at = owner.ParentRevision;
            current = owner.ParentId is { } parentId
                ? await store.GetCheckpointAsync(parentId, cancellationToken).ConfigureAwait(false) ?? throw new CheckpointNotFoundException(parentId)
                : null;
        }

        levels.Reverse();
        return [.. levels.SelectMany(l => l)];
    }

    internal sealed class Resolved
    {
        public static Resolved Empty { get; } = new([]);

        public Resolved(IReadOnlyList<ArtifactPin> all)
        {
            All = all;
            Set = [.. all];
            foreach (var pin in all)
            {
                ByKey[(pin.Type, pin.Key)] = pin; // later (higher-phase) pins win
            }
        }

        public IReadOnlyList<ArtifactPin> All { get; }

        public HashSet<ArtifactPin> Set { get; }

        public Dictionary<(string Type, string Key), ArtifactPin> ByKey { get; } = [];

        /// <summary>Whether <paramref name="pin"/> is one the phase consumes (the one in force for its type and key).</summary>
        public bool IsInForce(ArtifactPin pin) => ByKey.TryGetValue((pin.Type, pin.Key), out var inForce) && inForce == pin;
    }
}
