using System.Runtime.InteropServices;

namespace Checkpointing;

/// <summary>
/// The views of a run that <see cref="CheckpointQueries"/> shows, built from the run's checkpoints in creation order,
/// each in one linear pass (no sort, no search per checkpoint).
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
    /// The checkpoint tree: the roots (checkpoints without a parent) in creation order, each node's children (the
    /// checkpoints naming it as parent) in creation order. A checkpoint whose parent is not among them is left out.
    /// </summary>
    public static List<CheckpointNode> Tree(IReadOnlyList<Checkpoint> checkpoints)
    {
        // Every node owns its children list, filled after the node exists: no recursion, however deep the tree.
        var children = new Dictionary<Guid, List<CheckpointNode>>(checkpoints.Count);
        var nodes = new CheckpointNode[checkpoints.Count];
        for (var i = 0; i < checkpoints.Count; i++)
        {
            var list = new List<CheckpointNode>();
            children[checkpoints[i].Id] = list;
            nodes[i] = new CheckpointNode(checkpoints[i], list);
        }

        var roots = new List<CheckpointNode>();
        for (var i = 0; i < checkpoints.Count; i++)
        {
            if (checkpoints[i].ParentId is not { } parent)
            {
                roots.Add(nodes[i]);
            }
            else if (children.TryGetValue(parent, out var siblings))
            {
                siblings.Add(nodes[i]);
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
    public static List<ActiveBranch> ActiveBranches(Run run, int terminalPhase, IReadOnlyList<Checkpoint> checkpoints)
    {
        var continuedOnBranch = new HashSet<(string Branch, Guid Parent)>(checkpoints.Count);
        foreach (var checkpoint in checkpoints)
        {
            if (checkpoint.ParentId is { } parent)
            {
                continuedOnBranch.Add((checkpoint.Branch, parent));
            }
        }

        var order = new List<string>();
        var leaves = new Dictionary<string, Checkpoint?>(StringComparer.Ordinal);
        foreach (var checkpoint in checkpoints)
        {
            ref var leaf = ref CollectionsMarshal.GetValueRefOrAddDefault(leaves, checkpoint.Branch, out var seen);
            if (!seen)
            {
                order.Add(checkpoint.Branch);
            }

            if (!continuedOnBranch.Contains((checkpoint.Branch, checkpoint.Id))
                && (leaf is null || checkpoint.Phase > leaf.Phase || (checkpoint.Phase == leaf.Phase && checkpoint.CreatedAt >= leaf.CreatedAt)))
            {
                leaf = checkpoint;
            }
        }

        var active = new List<ActiveBranch>(order.Count);
        foreach (var branch in order)
        {
            if (leaves[branch] is { } leaf)
            {
                var canContinue = leaf.Phase < terminalPhase && leaf.Status != CheckpointStatus.Abandoned && run.Status != RunStatus.Cancelled;
                active.Add(new ActiveBranch(branch, leaf, canContinue));
            }
        }

        return active;
    }
}
