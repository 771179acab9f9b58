using Checkpointing.Storage;
using System.Text.Json;
using Checkpointing;
using Spectre.Console;
using VideoPipeline.Phases;

namespace VideoPipeline.Cli;

/// <summary>Renders runs, checkpoints, branches, the tree and artifact history as text, tables and trees.</summary>
public static class Views
{
    public static string Phase(int phase) => $"phase {phase} ({VideoPhases.Name(phase)})";

    /// <summary>What a run is doing, in one line.</summary>
    public static string RunState(Run run) => run.Status switch
    {
        RunStatus.Paused => $"paused at {Phase(run.CurrentPhase ?? 0)} on {run.CurrentBranch}",
        RunStatus.Running when run.GetInterruptedSince(DateTimeOffset.UtcNow) is { } since =>
            $"interrupted at {Phase(run.CurrentPhase ?? 0)} on {run.CurrentBranch} since {Ui.Time(since)} (retry or continue again to resume; finished units and jobs are kept)",
        RunStatus.Running => $"running {Phase(run.CurrentPhase ?? 0)} on {run.CurrentBranch} (executor {run.LeaseOwner}, lease until {Ui.Time(run.LeaseExpiresAt!.Value)})",
        RunStatus.Queued when run.LeaseOwner is not null && run.IsLeaseHeld(DateTimeOffset.UtcNow) => $"starting {Phase(run.CurrentPhase ?? 1)} on {run.CurrentBranch ?? "main"} (executor {run.LeaseOwner})",
        RunStatus.Queued => $"queued: {Phase(run.CurrentPhase ?? 1)} on {run.CurrentBranch ?? "main"} waits for a worker",
        RunStatus.Failed => $"failed at {Phase(run.CurrentPhase ?? 0)} on {run.CurrentBranch}: {run.Error}",
        RunStatus.Completed => $"completed on {run.CurrentBranch}",
        RunStatus.Cancelled => "cancelled",
        _ => "queued",
    };

    /// <summary>Content in a few words: the spec's beats and mood, or a blob's media type, size and hash.</summary>
    public static string Content(ArtifactContent content)
    {
        if (content.Blob is { } blob)
        {
            return $"{blob.MediaType}, {blob.Size:N0} B, sha256 {blob.Hash[..12]}";
        }

        if (content.Json is { } json)
        {
            if (json.ValueKind == JsonValueKind.Object && json.TryGetProperty("beats", out var beats) && beats.ValueKind == JsonValueKind.Array)
            {
                var mood = json.TryGetProperty("style", out var style) && style.ValueKind == JsonValueKind.Object && style.TryGetProperty("mood", out var m) ? m.ToString() : "?";
                var total = json.TryGetProperty("total_duration", out var t) ? t.ToString() : "?";
                return $"spec: {beats.GetArrayLength()} beats, {total} s, mood {mood}";
            }

            return $"json, {json.GetRawText().Length} chars";
        }

        return "empty";
    }

    public static Table Checkpoints(Ui ui, IReadOnlyList<Checkpoint> checkpoints)
    {
        var table = new Table().Border(ui.Border)
            .AddColumns("checkpoint", "phase", "branch", "v", "status", "cost", "created", "parent");
        foreach (var c in checkpoints)
        {
            table.AddRow(
                Ui.Esc(c.Id.ToString()), Ui.Esc(Phase(c.Phase)), Ui.Esc(c.Branch), c.Version.ToString(System.Globalization.CultureInfo.InvariantCulture),
                c.Status.ToString().ToLowerInvariant(), Ui.Money(c.Cost), Ui.Time(c.CreatedAt), c.ParentId is { } p ? Ui.Short(p) : "-");
        }

        return table;
    }

    public static Table Branches(Ui ui, RunSnapshot snapshot)
    {
        var table = new Table().Border(ui.Border)
            .AddColumns("branch", "forked from", "at checkpoint", "leaf", "leaf checkpoint", "leaf status", "can continue");
        foreach (var branch in snapshot.Branches)
        {
            var active = snapshot.ActiveBranches.FirstOrDefault(a => a.Branch == branch.Name);
            table.AddRow(
                Ui.Esc(branch.Name),
                Ui.Esc(branch.ParentBranch ?? "-"),
                branch.ForkedFrom is { } f ? Ui.Short(f) : "-",
                active is null ? "-" : Ui.Esc(Phase(active.Leaf.Phase)),
                active is null ? "(no checkpoint yet)" : active.Leaf.Id.ToString(),
                active?.Leaf.Status.ToString().ToLowerInvariant() ?? "-",
                active?.CanContinue == true ? "yes" : "no");
        }

        return table;
    }

    /// <summary>The checkpoint tree: each node is a checkpoint; a child on another branch is where that branch forked.</summary>
    public static Tree CheckpointTree(Ui ui, RunSnapshot snapshot)
    {
        var tree = new Tree(Ui.Esc($"run {snapshot.Run.Id} ({RunState(snapshot.Run)})")).Guide(ui.Guide);
        foreach (var root in snapshot.Tree)
        {
            AddNode(tree.AddNode(Label(root.Checkpoint, null, snapshot.Current)), root, snapshot.Current);
        }

        return tree;

        static void AddNode(TreeNode parent, CheckpointNode node, Checkpoint? current)
        {
            foreach (var child in node.Children.OrderBy(c => c.Checkpoint.CreatedAt))
            {
                AddNode(parent.AddNode(Label(child.Checkpoint, node.Checkpoint, current)), child, current);
            }
        }

        static string Label(Checkpoint c, Checkpoint? parent, Checkpoint? current)
        {
            var fork = parent is not null && parent.Branch != c.Branch ? $" [new branch {c.Branch}]" : "";
            var mark = current?.Id == c.Id ? " <- current" : "";
            return Ui.Esc($"{Phase(c.Phase)} on {c.Branch} v{c.Version}, {Ui.Short(c.Id)}, {c.Status.ToString().ToLowerInvariant()}, {Ui.Money(c.Cost)}{fork}{mark}");
        }
    }

    public static Table Artifacts(Ui ui, CheckpointDetails details)
    {
        var table = new Table().Border(ui.Border).AddColumns("artifact", "v", "content", "model", "seed", "cost", "updated");
        foreach (var view in details.Artifacts)
        {
            var a = view.Artifact;
            table.AddRow(
                Ui.Esc($"{a.Type}/{a.Key}"), a.Version.ToString(System.Globalization.CultureInfo.InvariantCulture), Ui.Esc(Content(a.Content)),
                Ui.Esc(a.Metadata.Model ?? "-"), a.Metadata.Seed?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-",
                Ui.Money(a.Metadata.Cost), Ui.Esc($"{Ui.Time(a.UpdatedAt)}{(a.Reason is null ? "" : $" ({a.Reason})")}"));
        }

        return table;
    }

    public static Table History(Ui ui, IReadOnlyList<ArtifactVersion> versions)
    {
        var table = new Table().Border(ui.Border).AddColumns("v", "from", "when", "by", "why", "content", "cost");
        foreach (var v in versions)
        {
            table.AddRow(
                v.Version.ToString(System.Globalization.CultureInfo.InvariantCulture), v.ParentVersion is { } p ? $"v{p}" : "-", Ui.Time(v.CreatedAt),
                Ui.Esc(v.CreatedBy ?? "-"), Ui.Esc(v.Reason ?? "-"), Ui.Esc(Content(v.Content)), Ui.Money(v.Metadata.Cost));
        }

        return table;
    }

    /// <summary>The branches in creation order, e.g. <c>main, main-1, main-1-1</c>.</summary>
    public static string BranchList(RunSnapshot snapshot) => string.Join(", ", snapshot.Branches.Select(b => b.Name));
}
