using Checkpointing.Storage;
using System.Text.Json;
using Checkpointing;
using VideoPipeline.Media;
using VideoPipeline.Phases;

namespace VideoPipeline.Cli;

/// <summary>What the commands do, shared by the single commands and the demo. Each call maps to one SDK call.</summary>
public static class Operations
{
    public static async Task<RunResult> StartAsync(Session s, RunInput input, bool autoContinue, CancellationToken ct, bool queue = false)
    {
        var runId = Guid.NewGuid();
        s.Ui.Line($"run {runId} {(queue ? "queued" : "started")}: \"{input.Prompt}\", {Ui.Number(input.Duration)} s in {input.Beats} beats, auto-continue {(autoContinue ? "on" : "off")}");
        var request = new StartRunRequest(VideoPipelineOptions.PipelineName, Session.User, input.ToJson()) { AutoContinue = autoContinue, RunId = runId, Queue = queue };
        return queue
            ? await s.Runner.StartAsync(request, ct)
            : await RunProgress.TrackAsync(s, runId, token => s.Runner.StartAsync(request, token), ct);
    }

    public static async Task<ContinueResult> ContinueAsync(Session s, Checkpoint checkpoint, string? description, CancellationToken ct, bool queue = false)
    {
        var options = new ContinueOptions(Session.User, description) { Queue = queue };
        var result = queue
            ? await s.Runner.ContinueAsync(checkpoint.Id, options, ct)
            : await RunProgress.TrackAsync(s, checkpoint.RunId, token => s.Runner.ContinueAsync(checkpoint.Id, options, token), ct);
        var how = result.BranchCreated ? $"new branch {result.Branch} (the checkpoint was edited)" : $"branch {result.Branch}";
        s.Ui.Line(result.AlreadyContinued
            ? $"checkpoint {checkpoint.Id} was already continued in this state: {Views.Phase(result.NextPhase)} is on {how}"
            : $"continued checkpoint {checkpoint.Id}: {Views.Phase(result.NextPhase)} {(result.Status == RunStatus.Queued ? "is queued for a worker" : result.Checkpoint is null ? "was started" : "ran")} on {how}");
        return result;
    }

    /// <summary>Prints where the run stands after the runner returned; a failed or cancelled run is an error.</summary>
    public static int ReportOutcome(Session s, Run run, Checkpoint? checkpoint)
    {
        switch (run.Status)
        {
            case RunStatus.Paused when checkpoint is not null:
                s.Ui.Line($"paused at {Views.Phase(checkpoint.Phase)} on {checkpoint.Branch}: checkpoint {checkpoint.Id} awaits review (cost so far {Ui.Money(run.Cost)})");
                var id = Ui.Short(checkpoint.Id);
                s.Ui.Line(checkpoint.Phase switch
                {
                    VideoPhases.Plan => $"next: show {id} | edit-spec {id} '{{\"style\":{{\"mood\":\"warm\"}}}}' | continue {id}",
                    VideoPhases.Storyboard => $"next: show {id} | regenerate-beat {id} 1 --prompt \"...\" | upload-image {id} 1 image.png | continue {id}",
                    VideoPhases.Chunks => $"next: show {id} | regenerate-chunk {id} 1 --model kling | continue {id}",
                    _ => $"next: continue {id}",
                });
                return 0;
            case RunStatus.Completed when checkpoint is not null:
                s.Ui.Line($"completed: the final cut is checkpoint {checkpoint.Id} on {checkpoint.Branch}; total cost {Ui.Money(run.Cost)}");
                s.Ui.Line($"next: export {Ui.Short(checkpoint.Id)} ./out | tree {Ui.Short(run.Id)}");
                return 0;
            case RunStatus.Failed:
                Ui.Error($"{Views.Phase(run.CurrentPhase ?? 0)} failed on {run.CurrentBranch}: {run.Error}");
                return 1;
            case RunStatus.Cancelled:
                Ui.Error($"run {run.Id} was cancelled.");
                return 1;
            case RunStatus.Queued:
                s.Ui.Line($"run {run.Id}: {Views.RunState(run)}");
                s.Ui.Line("next: start one or more workers (worker), then watch it with status");
                return 0;
            default:
                s.Ui.Line($"run {run.Id}: {Views.RunState(run)}");
                return 0;
        }
    }

    public static async Task<EditResult> EditSpecAsync(Session s, Checkpoint checkpoint, string patch, string? description, CancellationToken ct)
    {
        var edit = await s.Editor.PatchJsonAsync(
            checkpoint.Id, PlanPhase.ArtifactType, PlanPhase.ArtifactType, patch, new EditOptions(EditedBy: Session.User, Description: description ?? "edit-spec"), ct);
        s.Ui.Line($"spec of checkpoint {checkpoint.Id} is now v{edit.Artifact.Version} (v{edit.PreviousVersion} kept in history): {Views.Content(edit.Artifact.Content)}");
        return edit;
    }

    public static async Task<EditResult> UploadImageAsync(Session s, Checkpoint checkpoint, int beat, string file, CancellationToken ct)
    {
        if (Directory.Exists(file))
        {
            throw new UsageException($"'{file}' is a folder; upload-image takes an image file (PNG, JPEG or WebP).");
        }

        await RequireUnitAsync(s, checkpoint, StoryboardPhase.ArtifactType, beat, ct);
        await using var stream = File.OpenRead(file);
        var edit = await s.Editor.ReplaceContentAsync(
            checkpoint.Id, StoryboardPhase.ArtifactType, $"beat_{beat}", stream, new EditOptions(EditedBy: Session.User, Description: $"upload {Path.GetFileName(file)}"), ct);
        s.Ui.Line($"beat_{beat} of checkpoint {checkpoint.Id} is now v{edit.Artifact.Version}: {Views.Content(edit.Artifact.Content)}");
        return edit;
    }

    public static async Task<EditResult> RegenerateBeatAsync(Session s, Checkpoint checkpoint, int beat, string? prompt, long? seed, CancellationToken ct)
    {
        RequirePhase(checkpoint, VideoPhases.Storyboard, "regenerate-beat", "regenerate-chunk");
        var current = await RequireUnitAsync(s, checkpoint, StoryboardPhase.ArtifactType, beat, ct);
        // Without a seed, take the next one so the new image differs from the current.
        var overrides = new UnitOverrides(Prompt: prompt, Seed: seed ?? (current?.Metadata.Seed ?? 0) + 1);
        var edit = await RunProgress.SpinAsync(s.Ui, $"regenerating beat {beat}...", () =>
            s.Editor.RegenerateUnitAsync(checkpoint.Id, beat, overrides, new EditOptions(EditedBy: Session.User, Description: prompt is null ? "regenerate-beat" : $"regenerate-beat: {prompt}"), ct));
        s.Ui.Line($"beat_{beat} of checkpoint {checkpoint.Id} regenerated: v{edit.Artifact.Version}, seed {edit.Artifact.Metadata.Seed}, {Ui.Money(edit.Artifact.Metadata.Cost)}; prompt \"{edit.Artifact.Metadata.Prompt}\"");
        return edit;
    }

    public static async Task<EditResult> RegenerateChunkAsync(Session s, Checkpoint checkpoint, int beat, string? model, long? seed, CancellationToken ct)
    {
        RequirePhase(checkpoint, VideoPhases.Chunks, "regenerate-chunk", "regenerate-beat");
        var modelId = s.Options.ResolveClipModel(model);
        var current = await RequireUnitAsync(s, checkpoint, ChunksPhase.ArtifactType, beat, ct);
        var overrides = new UnitOverrides(Model: modelId, Seed: seed ?? (current?.Metadata.Seed ?? 0) + 1);
        var edit = await RunProgress.SpinAsync(s.Ui, $"regenerating chunk {beat} with {modelId}...", () =>
            s.Editor.RegenerateUnitAsync(checkpoint.Id, beat, overrides, new EditOptions(EditedBy: Session.User, Description: $"regenerate-chunk with {modelId}"), ct));
        s.Ui.Line($"chunk_{beat} of checkpoint {checkpoint.Id} regenerated with {edit.Artifact.Metadata.Model}: v{edit.Artifact.Version}, {Ui.Money(edit.Artifact.Metadata.Cost)}, {Views.Content(edit.Artifact.Content)}");
        return edit;
    }

    public static async Task PrintTreeAsync(Session s, Guid runId, CancellationToken ct)
    {
        var snapshot = await s.Queries.GetStatusAsync(runId, ct);
        s.Ui.Out.Write(Views.CheckpointTree(s.Ui, snapshot));
        s.Ui.Line($"{snapshot.Branches.Count} {(snapshot.Branches.Count == 1 ? "branch" : "branches")}: {Views.BranchList(snapshot)}");
        s.Ui.Line($"total cost: {Ui.Money(snapshot.Cost)}");
    }

    /// <summary>Writes each artifact of a checkpoint to a file named after its key, with an extension that fits its bytes.</summary>
    public static async Task<IReadOnlyList<string>> ExportAsync(Session s, Checkpoint checkpoint, string folder, CancellationToken ct)
    {
        Directory.CreateDirectory(folder);
        var details = await s.Queries.GetCheckpointAsync(checkpoint.Id, ct);
        var written = new List<string>();
        foreach (var view in details.Artifacts)
        {
            var artifact = view.Artifact;
            string path;
            if (artifact.Content.Json is { } json)
            {
                path = Path.Combine(folder, artifact.Key + ".json");
                await File.WriteAllTextAsync(path, JsonSerializer.Serialize(json, VideoSpec.Json), ct);
            }
            else
            {
                await using var content = await s.Queries.OpenContentAsync(artifact.Content, ct);
                using var buffer = new MemoryStream();
                await content.CopyToAsync(buffer, ct);
                var bytes = buffer.ToArray();
                path = Path.Combine(folder, artifact.Key + MediaFiles.ExtensionFor(bytes, artifact.Content.Blob?.MediaType));
                await File.WriteAllBytesAsync(path, bytes, ct);
            }

            written.Add(path);
            s.Ui.Line($"{path}  ({artifact.Type} v{artifact.Version}, {new FileInfo(path).Length:N0} B)");
        }

        return written;
    }

    /// <summary>Checks that the checkpoint holds unit <paramref name="index"/> of <paramref name="type"/>; returns it, or null when the checkpoint holds none of that type (the SDK then says which edits its phase allows).</summary>
    private static async Task<Artifact?> RequireUnitAsync(Session s, Checkpoint checkpoint, string type, int index, CancellationToken ct)
    {
        var units = (await s.Queries.GetCheckpointAsync(checkpoint.Id, ct)).Artifacts.Select(a => a.Artifact).Where(a => a.Type == type).ToList();
        if (units.Count == 0)
        {
            return null;
        }

        if (index < 1 || index > units.Count)
        {
            throw new UnitIndexOutOfRangeException(checkpoint.Id, index, units.Count);
        }

        return units.FirstOrDefault(a => a.UnitIndex == index);
    }

    private static void RequirePhase(Checkpoint checkpoint, int phase, string command, string other)
    {
        if (checkpoint.Phase != phase && checkpoint.Phase is VideoPhases.Storyboard or VideoPhases.Chunks)
        {
            throw new UsageException($"'{command}' works on {Views.Phase(phase)} checkpoints; checkpoint {checkpoint.Id} is at {Views.Phase(checkpoint.Phase)} (use '{other}').");
        }
    }
}
