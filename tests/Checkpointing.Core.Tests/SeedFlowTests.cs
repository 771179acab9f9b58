using Checkpointing.Tests.Support;

namespace Checkpointing.Tests;

/// <summary>The seed's verification flow end to end on the in-memory store with a fake backend.</summary>
public class SeedFlowTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Human_in_the_loop_flow_pauses_edits_forks_and_completes()
    {
        await using var host = new TestHost();

        // Phase 1 runs and the run pauses for review.
        var started = await host.StartAsync(autoContinue: false);
        Assert.Equal(RunStatus.Paused, started.Status);
        Assert.Equal(1, started.Run.CurrentPhase);
        var plan = Assert.IsType<Checkpoint>(started.Checkpoint);
        Assert.Equal((BranchNames.Main, 1, 1, CheckpointStatus.Pending), (plan.Branch, plan.Phase, plan.Version, plan.Status));

        // Edit the spec: version 2, the checkpoint's output follows.
        var edit = await host.Editor.PatchJsonAsync(plan.Id, "spec", "spec", """{"style":{"mood":"warm"}}""", cancellationToken: Ct);
        Assert.Equal(2, edit.Artifact.Version);
        var planAfterEdit = await host.Store.GetCheckpointAsync(plan.Id, Ct);
        Assert.Equal("warm", planAfterEdit!.Output!.Value.GetProperty("style").GetProperty("mood").GetString());

        // Continue: edited, so phase 2 runs on main-1 and pauses.
        var toStoryboard = await host.Runner.ContinueAsync(plan.Id, cancellationToken: Ct);
        Assert.Equal((2, "main-1", true, false), (toStoryboard.NextPhase, toStoryboard.Branch, toStoryboard.BranchCreated, toStoryboard.AlreadyContinued));
        Assert.Equal(RunStatus.Paused, toStoryboard.Run.Status);
        var storyboard = Assert.IsType<Checkpoint>(toStoryboard.Checkpoint);
        Assert.Equal((2, "main-1", plan.Id), (storyboard.Phase, storyboard.Branch, storyboard.ParentId));
        Assert.Equal(CheckpointStatus.Approved, (await host.Store.GetCheckpointAsync(plan.Id, Ct))!.Status);

        // Phase 2 consumed the edited spec (version 2), and its prompts carry the edit.
        Assert.Contains(await host.Queries.GetInputsAsync(storyboard.Id, Ct), p => p is { Type: "spec", Version: 2 });
        var beat1 = await host.Queries.GetArtifactAsync(storyboard.Id, "beat_image", "beat_1", Ct);
        Assert.EndsWith("warm", beat1.Metadata.Prompt);

        // Regenerate beat 3 with a new prompt: version 2, version 1 still readable.
        var before = await host.Queries.GetArtifactAsync(storyboard.Id, "beat_image", "beat_3", Ct);
        var regenerated = await host.Editor.RegenerateUnitAsync(storyboard.Id, 3, new UnitOverrides(Prompt: "a closer shot"), cancellationToken: Ct);
        Assert.Equal(2, regenerated.Artifact.Version);
        Assert.Equal("a closer shot", regenerated.Artifact.Metadata.Prompt);
        Assert.NotEqual(before.Content.Blob!.Hash, regenerated.Artifact.Content.Blob!.Hash);
        var v1 = await host.Queries.GetArtifactVersionAsync(storyboard.Id, "beat_image", "beat_3", 1, Ct);
        Assert.Equal(before.Content, v1.Content);
        await using (var oldBytes = await host.Queries.OpenContentAsync(v1.Content, Ct))
        {
            Assert.Equal(before.Content.Blob.Size, await CountAsync(oldBytes));
        }

        var history = await host.Queries.GetArtifactHistoryAsync(storyboard.Id, "beat_image", "beat_3", Ct);
        Assert.Equal([1, 2], history.Select(h => h.Version));
        Assert.Equal(1, history[1].ParentVersion);

        // Continue again: main-1-1.
        var toChunks = await host.Runner.ContinueAsync(storyboard.Id, cancellationToken: Ct);
        Assert.Equal((3, "main-1-1", true), (toChunks.NextPhase, toChunks.Branch, toChunks.BranchCreated));
        var chunks = Assert.IsType<Checkpoint>(toChunks.Checkpoint);
        Assert.Contains(await host.Queries.GetInputsAsync(chunks.Id, Ct), p => p is { Type: "beat_image", Key: "beat_3", Version: 2 });

        // The tree shows three branches.
        var status = await host.Queries.GetStatusAsync(started.Run.Id, Ct);
        Assert.Equal(["main", "main-1", "main-1-1"], status.Branches.Select(b => b.Name));
        Assert.Equal(["main", "main-1", "main-1-1"], status.ActiveBranches.Select(b => b.Branch).Order());
        var root = Assert.Single(status.Tree);
        Assert.Equal(plan.Id, root.Checkpoint.Id);
        Assert.Equal(storyboard.Id, Assert.Single(root.Children).Checkpoint.Id);
        Assert.Equal(chunks.Id, Assert.Single(Assert.Single(root.Children).Children).Checkpoint.Id);
        Assert.Equal(chunks.Id, status.Current!.Id);

        // Finish: the terminal checkpoint is approved and the run completes.
        var done = await host.Runner.ContinueAsync(chunks.Id, cancellationToken: Ct);
        Assert.Equal((4, "main-1-1", false), (done.NextPhase, done.Branch, done.BranchCreated));
        Assert.Equal(RunStatus.Completed, done.Run.Status);
        Assert.Equal(CheckpointStatus.Approved, done.Checkpoint!.Status);

        // Cost: 1 plan + 4 images + 1 regeneration + 4 clips at 0.025, and 0.01 for assembling.
        Assert.Equal(10 * 0.025m + 0.01m, done.Run.Cost);
    }

    [Fact]
    public async Task Auto_continue_runs_straight_through_and_approves_the_terminal_checkpoint()
    {
        await using var host = new TestHost();
        var events = new List<CheckpointEvent>();
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var runId = Guid.NewGuid();
        var subscription = host.Queries.WatchAsync(runId, watching.Token);
        var collector = Task.Run(async () =>
        {
            await foreach (var e in subscription)
            {
                events.Add(e);
                if (e is RunCompleted)
                {
                    break;
                }
            }
        }, Ct);

        var result = await host.Runner.StartAsync(new StartRunRequest(VideoPipeline.Name, "user-1", VideoPipeline.Input()) { AutoContinue = true, RunId = runId }, Ct);

        Assert.Equal(RunStatus.Completed, result.Status);
        Assert.Equal(4, result.Checkpoint!.Phase);
        Assert.Equal(CheckpointStatus.Approved, result.Checkpoint.Status);
        var checkpoints = await host.Queries.ListCheckpointsAsync(runId, cancellationToken: Ct);
        Assert.Equal([1, 2, 3, 4], checkpoints.Select(c => c.Phase));
        Assert.All(checkpoints, c => Assert.Equal((BranchNames.Main, CheckpointStatus.Approved), (c.Branch, c.Status)));
        Assert.Null(await host.Queries.GetCurrentCheckpointAsync(runId, Ct));

        await collector.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.DoesNotContain(events, e => e is RunPaused);
        Assert.Equal(4, events.OfType<PhaseStarted>().Count());
        Assert.Equal(4, events.OfType<CheckpointCreated>().Count());
        Assert.Equal(8, events.OfType<UnitCompleted>().Count());
        var lastUnit = events.OfType<UnitCompleted>().Where(u => u.Phase == 2).MaxBy(u => u.Completed)!;
        Assert.Equal((4, 4), (lastUnit.Completed, lastUnit.Total));
        Assert.IsType<RunCompleted>(events[^1]);
    }

    private static async Task<long> CountAsync(Stream stream)
    {
        var buffer = new byte[8192];
        long total = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer, Ct)) > 0)
        {
            total += read;
        }

        return total;
    }
}
