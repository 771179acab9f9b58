using System.Runtime.InteropServices;

namespace Checkpointing;

/// <summary>
/// The views of a run that <see cref="CheckpointQueries"/> shows, built from the run's checkpoints in creation order,
/// each in one linear pass over them (no sort, no search per checkpoint, no recursion).
/// </summary>
internal static class RunViews
{
    /// <summary>The status of the current checkpoint: the latest one with it is the run's current checkpoint.</summary>
    public const CheckpointStatus CurrentStatus = CheckpointStatus.Pending;

    /// <summary>The current checkpoint: the latest pending one, or null.</summary>
    public static Checkpoint? Current(IReadOnlyList<Checkpoint> checkpoints)
    {
        for (var i = checkpoints.Count - 1; i >= 0; i--)
        {
            if (checkpoints[i].Status == CurrentStatus)
            {
                return checkpoints[i];
            }
        }

        return null;
    }

    /// <summary>
    /// For every checkpoint, the position of its parent among <paramref name="checkpoints"/>, or -1 when it has none
    /// or its parent is not among them: what <see cref="Tree"/> and <see cref="ActiveBranches"/> both start from.
    /// </summary>
    public static int[] Parents(IReadOnlyList<Checkpoint> checkpoints)
    {
        var positions = new Dictionary<Guid, int>(checkpoints.Count);
        for (var i = 0; i < checkpoints.Count; i++)
        {
            positions[checkpoints[i].Id] = i;
        }

        var parents = new int[checkpoints.Count];
        for (var i = 0; i < checkpoints.Count; i++)
        {
            parents[i] = checkpoints[i].ParentId is { } parent && positions.TryGetValue(parent, out var at) ? at : -1;
        }

        return parents;
    }

    /// <summary>
    /// The checkpoint tree: the roots (checkpoints without a parent) in creation order, each node's children (the
    /// checkpoints naming it as parent) in creation order. A checkpoint whose parent is not among them is left out.
    /// </summary>
    /// <param name="checkpoints">The run's checkpoints in creation order.</param>
    /// <param name="parents">Their parents' positions, from <see cref="Parents"/>.</param>
    public static List<CheckpointNode> Tree(IReadOnlyList<Checkpoint> checkpoints, int[] parents)
    {
        // Every node gets an array of exactly its children, filled after all nodes exist: however deep the tree.
        var childCount = new int[checkpoints.Count];
        foreach (var parent in parents)
        {
            if (parent >= 0)
            {
                childCount[parent]++;
            }
        }

        var children = new CheckpointNode[checkpoints.Count][];
        var nodes = new CheckpointNode[checkpoints.Count];
        for (var i = 0; i < checkpoints.Count; i++)
        {
            children[i] = childCount[i] == 0 ? [] : new CheckpointNode[childCount[i]];
            nodes[i] = new CheckpointNode(checkpoints[i], children[i]);
            childCount[i] = 0; // from here on: how many children are filled in
        }

        var roots = new List<CheckpointNode>();
        for (var i = 0; i < checkpoints.Count; i++)
        {
            if (parents[i] >= 0)
            {
                children[parents[i]][childCount[parents[i]]++] = nodes[i];
            }
            else if (checkpoints[i].ParentId is null)
            {
                roots.Add(nodes[i]);
            }
        }

        return roots;
    }

    /// <summary>
    /// The leaf of every branch that has checkpoints, in the order the branches first appear: the latest (highest phase,
    /// then latest created, then last listed) of the branch's checkpoints that no checkpoint of the same branch names as
    /// parent. It can be continued when it is before <paramref name="terminalPhase"/>, not abandoned, and the run is
    /// not cancelled.
    /// </summary>
    /// <param name="run">The run.</param>
    /// <param name="terminalPhase">The last phase of the run's pipeline.</param>
    /// <param name="checkpoints">The run's checkpoints in creation order.</param>
    /// <param name="parents">Their parents' positions, from <see cref="Parents"/>.</param>
    public static List<ActiveBranch> ActiveBranches(Run run, int terminalPhase, IReadOnlyList<Checkpoint> checkpoints, int[] parents)
    {
        var continuedOnBranch = new bool[checkpoints.Count];
        for (var i = 0; i < checkpoints.Count; i++)
        {
            if (parents[i] >= 0 && string.Equals(checkpoints[parents[i]].Branch, checkpoints[i].Branch, StringComparison.Ordinal))
            {
                continuedOnBranch[parents[i]] = true;
            }
        }

        var leaves = new List<(string Branch, int Leaf)>();
        var slots = new Dictionary<string, int>(StringComparer.Ordinal);
        var (lastBranch, slot) = ((string?)null, -1);
        for (var i = 0; i < checkpoints.Count; i++)
        {
            var checkpoint = checkpoints[i];
            if (!string.Equals(checkpoint.Branch, lastBranch, StringComparison.Ordinal))
            {
                // Runs of checkpoints on one branch (the common case) look their branch up once.
                ref var found = ref CollectionsMarshal.GetValueRefOrAddDefault(slots, checkpoint.Branch, out var seen);
                if (!seen)
                {
                    found = leaves.Count;
                    leaves.Add((checkpoint.Branch, -1));
                }

                (lastBranch, slot) = (checkpoint.Branch, found);
            }

            var leaf = leaves[slot].Leaf;
            if (!continuedOnBranch[i]
                && (leaf < 0 || checkpoint.Phase > checkpoints[leaf].Phase
                    || (checkpoint.Phase == checkpoints[leaf].Phase && checkpoint.CreatedAt >= checkpoints[leaf].CreatedAt)))
            {
                leaves[slot] = (checkpoint.Branch, i);
            }
        }

        var active = new List<ActiveBranch>(leaves.Count);
        foreach (var (branch, at) in leaves)
        {
            if (at >= 0)
            {
                var leaf = checkpoints[at];
                var canContinue = leaf.Phase < terminalPhase && leaf.Status != CheckpointStatus.Abandoned && run.Status != RunStatus.Cancelled;
                active.Add(new ActiveBranch(branch, leaf, canContinue));
            }
        }

        return active;
    }
}
