using VideoPipeline.Tests.Support;

namespace VideoPipeline.Tests;

/// <summary>Each command is its own process; they meet only in the data folder (SQLite + blobs + studio jobs).</summary>
public sealed class CrossProcessTests
{
    [Fact]
    public async Task Run_edit_continue_and_queries_in_separate_processes_see_one_state()
    {
        using var app = new SampleApp();

        // Process 1: start; phase 1 runs and the run pauses.
        var run = await app.SucceedAsync("run", "--prompt", "a steel water bottle on a mountain trail", "--beats", "3", "--duration", "9");
        var runId = Ids.RunId(run.Stdout);
        var plan = Ids.PausedCheckpoint(run.Stdout);
        Assert.Contains("paused at phase 1 (plan) on main", run.Stdout);

        // Process 2: edit the spec from a patch file.
        var patch = app.Scratch("patch.json");
        await File.WriteAllTextAsync(patch, """{"style":{"mood":"energetic"},"product":{"name":"trail bottle"}}""", TestContext.Current.CancellationToken);
        var edit = await app.SucceedAsync("edit-spec", plan, "--file", patch, "--description", "more energy");
        Assert.Contains($"spec of checkpoint {plan} is now v2", edit.Stdout);

        // Process 3: continue by id prefix; the edit forks main-1.
        var cont = await app.SucceedAsync("continue", plan[..8]);
        Assert.Contains("phase 2 (storyboard) ran on new branch main-1", cont.Stdout);
        var storyboard = Ids.PausedCheckpoint(cont.Stdout);

        // Processes 4+: every query shows the results of the others.
        var status = await app.SucceedAsync("status");
        Assert.Contains($"run {runId}: paused at phase 2 (storyboard) on main-1", status.Stdout);
        Assert.Contains($"current checkpoint: {storyboard} (phase 2 (storyboard) on main-1, v1, awaiting review)", status.Stdout);
        Assert.Contains("branches: main, main-1", status.Stdout);

        var tree = await app.SucceedAsync("tree", runId);
        Assert.Matches($@"phase 1 \(plan\) on main v1, {plan[..8]}, approved", tree.Stdout);
        Assert.Matches($@"phase 2 \(storyboard\) on main-1 v1, {storyboard[..8]}, pending, \$0\.0750 \[new branch main-1\] <- current", tree.Stdout);
        Assert.Contains("2 branches: main, main-1", tree.Stdout);

        var branches = await app.SucceedAsync("branches", runId[..6]);
        Assert.Matches($@"\| main\s+\| -\s+\| -\s+\| phase 1 \(plan\)\s+\| {plan} \| approved", branches.Stdout);
        Assert.Matches($@"\| main-1\s+\| main\s+\| {plan[..8]}\s+\| phase 2 \(storyboard\)\s+\| {storyboard} \| pending\s+\| yes", branches.Stdout);

        var history = await app.SucceedAsync("history", plan, "spec");
        Assert.Contains($"spec/spec of checkpoint {plan}: 2 versions, current v2", history.Stdout);
        Assert.Matches(@"\| 1 \| -\s+\|.*\| -\s+\| spec: 3 beats, 9 s, mood calm", history.Stdout);
        Assert.Matches(@"\| 2 \| v1\s+\|.*\| PatchJson: more energy \| spec: 3 beats, 9 s, mood energetic", history.Stdout);

        var onBranch = await app.SucceedAsync("checkpoints", "--branch", "main-1");
        Assert.Contains($"run {runId}: 1 checkpoints on main-1", onBranch.Stdout);
        Assert.Contains(storyboard, onBranch.Stdout);
        Assert.DoesNotContain(plan, onBranch.Stdout);

        // Another process continuing the same, unchanged checkpoint gets the same result; nothing runs again.
        var again = await app.SucceedAsync("continue", plan);
        Assert.Contains("was already continued in this state: phase 2 (storyboard) is on new branch main-1", again.Stdout);
        Assert.Equal(storyboard, Ids.PausedCheckpoint(again.Stdout));
        Assert.DoesNotContain("started", again.Stdout);
        Assert.Contains("2 branches: main, main-1", (await app.SucceedAsync("tree")).Stdout);

        // The storyboard was built from the edited spec, v2.
        var show = await app.SucceedAsync("show", storyboard);
        Assert.Contains("built from: spec v2\n", show.Stdout);
    }

    [Fact]
    public async Task An_uploaded_image_becomes_the_first_frame_of_its_clip()
    {
        using var app = new SampleApp();
        app.Environment["Media__Ffmpeg"] = "off";
        var plan = Ids.PausedCheckpoint((await app.SucceedAsync("run", "--beats", "2", "--duration", "4")).Stdout);
        var storyboard = Ids.PausedCheckpoint((await app.SucceedAsync("continue", plan)).Stdout);

        // A grey PNG made by the test, of the clips' size (the studio paints 256x144 RGB).
        var upload = MediaProbe.TinyPng(256, 144, 60);
        var file = app.Scratch("mine.png");
        await File.WriteAllBytesAsync(file, upload, TestContext.Current.CancellationToken);
        var uploaded = await app.SucceedAsync("upload-image", storyboard, "1", file);
        Assert.Contains($"beat_1 of checkpoint {storyboard} is now v2: image/png, {upload.Length.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} B", uploaded.Stdout);

        var cont = await app.SucceedAsync("continue", storyboard);
        Assert.Contains("phase 3 (chunks) ran on new branch main-1", cont.Stdout);
        var chunks = Ids.PausedCheckpoint(cont.Stdout);
        Assert.Contains("built from: spec v1, beat_1 v2, beat_2 v1", (await app.SucceedAsync("show", chunks)).Stdout);

        var folder = app.Scratch("chunks");
        await app.SucceedAsync("export", chunks, folder);
        var clip = await File.ReadAllBytesAsync(Path.Combine(folder, "chunk_1.apng"), TestContext.Current.CancellationToken);
        Assert.Equal((256, 144), (MediaProbe.ReadPng(clip).Width, MediaProbe.ReadPng(clip).Height));
        Assert.Equal(MediaProbe.Decode(upload), MediaProbe.DecodeFrames(clip)[0]);
    }

    [Fact]
    public async Task Two_processes_continuing_the_same_checkpoint_at_once_run_the_phase_once()
    {
        using var app = new SampleApp();
        var plan = Ids.PausedCheckpoint((await app.SucceedAsync("run", "--beats", "2", "--duration", "4")).Stdout);

        app.Environment["Studio__LatencyMilliseconds"] = "800";
        var both = await Task.WhenAll(app.RunAsync("continue", plan), app.RunAsync("continue", plan));
        Assert.All(both, r => Assert.True(r.ExitCode == 0 && r.Stderr.Length == 0, r.ToString()));
        Assert.Single(both, r => r.Stdout.Contains("phase 2 (storyboard) ran on branch main", StringComparison.Ordinal));
        Assert.Single(both, r => r.Stdout.Contains("was already continued in this state", StringComparison.Ordinal));

        // The one that waited followed the other process's progress from the run's event log.
        Assert.All(both, r => Assert.Contains(" done (2/2,", r.Stdout, StringComparison.Ordinal));
        Assert.Equal(Ids.PausedCheckpoint(both[0].Stdout), Ids.PausedCheckpoint(both[1].Stdout));

        var checkpoints = (await app.SucceedAsync("checkpoints")).Stdout;
        Assert.Contains("2 checkpoints", checkpoints);
        Assert.Contains("cost: $0.0530", (await app.SucceedAsync("status")).Stdout); // the plan and two images, once
    }

    [Fact]
    public async Task Auto_continue_runs_every_phase_on_main_then_regenerating_a_chunk_and_continuing_forks()
    {
        using var app = new SampleApp();
        var run = await app.SucceedAsync("run", "--auto-continue", "--beats", "2", "--duration", "4");
        Assert.Contains("phase 4 (assemble) started on main", run.Stdout);
        Assert.Matches(@"completed: the final cut is checkpoint [0-9a-f-]{36} on main; total cost \$0\.2330", run.Stdout); // 0.003 + 2 x 0.025 + 4 s x 0.045
        var chunks = Ids.Find(run.Stdout, @"checkpoint {id} saved: phase 3 on main,");

        // A completed run's clips can still be regenerated with another model; continuing then forks.
        var regen = await app.SucceedAsync("regenerate-chunk", chunks, "2", "--model", "kling");
        Assert.Contains("chunk_2 of checkpoint", regen.Stdout);
        Assert.Contains("regenerated with kwaivgi/kling-v2.1: v2, $0.1000", regen.Stdout); // 2 s x $0.05
        var cont = await app.SucceedAsync("continue", chunks);
        Assert.Contains("phase 4 (assemble) ran on new branch main-1", cont.Stdout);

        var status = await app.SucceedAsync("status");
        Assert.Contains("completed on main-1", status.Stdout);
        Assert.Contains("cost: $0.3330", status.Stdout);
        var history = await app.SucceedAsync("history", chunks, "chunk_2");
        Assert.Contains("2 versions, current v2", history.Stdout);
        Assert.Contains("regenerate-chunk with kwaivgi/kling-v2.1", history.Stdout);
    }
}
