using Checkpointing.Tests.Support;

namespace Checkpointing.Tests;

public class ContinueTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Continue_without_edits_stays_on_the_branch()
    {
        await using var host = new TestHost();
        var started = await host.StartAsync();

        var result = await host.Runner.ContinueAsync(started.Checkpoint!.Id, cancellationToken: Ct);

        Assert.Equal((2, BranchNames.Main, false, false), (result.NextPhase, result.Branch, result.BranchCreated, result.AlreadyContinued));
        Assert.Equal(BranchNames.Main, result.Checkpoint!.Branch);
        Assert.Equal([BranchNames.Main], (await host.Store.ListBranchesAsync(started.Run.Id, Ct)).Select(b => b.Name));
    }

    [Fact]
    public async Task Continuing_twice_with_nothing_changed_returns_the_same_result_without_running_the_phase_again()
    {
        await using var host = new TestHost();
        var started = await host.StartAsync();
        await host.Editor.PatchJsonAsync(started.Checkpoint!.Id, "spec", "spec", """{"template":"v2"}""", cancellationToken: Ct);
        var first = await host.Runner.ContinueAsync(started.Checkpoint.Id, cancellationToken: Ct);
        var submits = host.Backend.SubmitCount();

        var second = await host.Runner.ContinueAsync(started.Checkpoint.Id, cancellationToken: Ct);

        Assert.True(second.AlreadyContinued);
        Assert.Equal((first.NextPhase, first.Branch, first.BranchCreated, first.Checkpoint!.Id), (second.NextPhase, second.Branch, second.BranchCreated, second.Checkpoint!.Id));
        Assert.Equal(submits, host.Backend.SubmitCount());
        Assert.Single(await host.Store.ListCheckpointsAsync(started.Run.Id, "main-1", Ct));
        Assert.Equal(2, (await host.Store.ListBranchesAsync(started.Run.Id, Ct)).Count);
    }

    [Fact]
    public async Task Continuing_after_further_edits_forks_again()
    {
        await using var host = new TestHost();
        var started = await host.StartAsync();
        var plan = started.Checkpoint!.Id;
        await host.Editor.PatchJsonAsync(plan, "spec", "spec", """{"template":"v2"}""", cancellationToken: Ct);
        var first = await host.Runner.ContinueAsync(plan, cancellationToken: Ct);
        await host.Editor.PatchJsonAsync(plan, "spec", "spec", """{"template":"v3"}""", cancellationToken: Ct);

        var second = await host.Runner.ContinueAsync(plan, cancellationToken: Ct);

        Assert.Equal(("main-1", "main-2"), (first.Branch, second.Branch));
        Assert.True(second.BranchCreated);
        Assert.False(second.AlreadyContinued);
        Assert.Contains(await host.Queries.GetInputsAsync(first.Checkpoint!.Id, Ct), p => p is { Type: "spec", Version: 2 });
        Assert.Contains(await host.Queries.GetInputsAsync(second.Checkpoint!.Id, Ct), p => p is { Type: "spec", Version: 3 });
    }

    [Fact]
    public async Task Continuing_the_terminal_phase_fails_clearly_and_changes_nothing()
    {
        await using var host = new TestHost();
        var done = await host.StartAsync(autoContinue: true);
        var snapshot = await StoreSnapshot.CaptureAsync(host.Store, done.Run.Id, host.Blobs);

        var error = await Assert.ThrowsAsync<TerminalPhaseException>(() => host.Runner.ContinueAsync(done.Checkpoint!.Id, cancellationToken: Ct));

        Assert.Contains("terminal phase", error.Message, StringComparison.Ordinal);
        Assert.Equal(snapshot, await StoreSnapshot.CaptureAsync(host.Store, done.Run.Id, host.Blobs));
    }

    [Fact]
    public async Task Editing_an_approved_checkpoint_and_continuing_forks_from_history_without_touching_the_existing_branch()
    {
        await using var host = new TestHost();
        var done = await host.StartAsync(autoContinue: true);
        var checkpoints = await host.Store.ListCheckpointsAsync(done.Run.Id, cancellationToken: Ct);
        var storyboard = checkpoints.Single(c => c.Phase == 2);
        var chunksOnMain = checkpoints.Single(c => c.Phase == 3);
        Assert.Equal(CheckpointStatus.Approved, storyboard.Status);
        var mainInputsBefore = await host.Queries.GetInputsAsync(chunksOnMain.Id, Ct);

        await host.Editor.RegenerateUnitAsync(storyboard.Id, 2, new UnitOverrides(Prompt: "from history"), cancellationToken: Ct);
        var fork = await host.Runner.ContinueAsync(storyboard.Id, cancellationToken: Ct);

        Assert.Equal((3, "main-1", true), (fork.NextPhase, fork.Branch, fork.BranchCreated));
        // The run auto-continues, so the fork runs through to its own terminal checkpoint.
        Assert.Equal(RunStatus.Completed, fork.Run.Status);
        Assert.Equal((3, "main-1"), (fork.Checkpoint!.Phase, fork.Checkpoint.Branch));
        Assert.Equal(2, (await host.Store.ListCheckpointsAsync(done.Run.Id, "main-1", Ct)).Count);
        Assert.Contains(await host.Queries.GetInputsAsync(fork.Checkpoint!.Id, Ct), p => p is { Type: "beat_image", Key: "beat_2", Version: 2 });

        // The existing branch still records version 1 of beat 2: later edits never change what it was built from.
        var main = await host.Queries.GetInputsAsync(chunksOnMain.Id, Ct);
        Assert.Contains(main, p => p is { Type: "beat_image", Key: "beat_2", Version: 1 });
        Assert.Equal(mainInputsBefore, main);
    }

    [Fact]
    public async Task Continuing_an_abandoned_or_unknown_checkpoint_fails_and_changes_nothing()
    {
        await using var host = new TestHost();
        var started = await host.StartAsync();
        await host.Editor.AbandonAsync(started.Checkpoint!.Id, Ct);
        var snapshot = await StoreSnapshot.CaptureAsync(host.Store, started.Run.Id, host.Blobs);

        await Assert.ThrowsAsync<CheckpointAbandonedException>(() => host.Runner.ContinueAsync(started.Checkpoint.Id, cancellationToken: Ct));
        await Assert.ThrowsAsync<CheckpointNotFoundException>(() => host.Runner.ContinueAsync(Guid.NewGuid(), cancellationToken: Ct));

        Assert.Equal(snapshot, await StoreSnapshot.CaptureAsync(host.Store, started.Run.Id, host.Blobs));
    }

    [Fact]
    public async Task Forking_an_edited_checkpoint_writes_no_blob_bytes()
    {
        await using var host = new TestHost();
        var started = await host.StartAsync();
        var storyboard = (await host.Runner.ContinueAsync(started.Checkpoint!.Id, cancellationToken: Ct)).Checkpoint!;
        await host.Editor.RegenerateUnitAsync(storyboard.Id, 1, new UnitOverrides(Seed: 42), cancellationToken: Ct);

        // Fork phase 3 from the edited checkpoint, but observe only what forking itself writes:
        // the next phase would write clips, so count bytes around the continuation record alone.
        var filesBefore = host.BlobFilesOnDisk();
        var bytesBefore = host.BlobBytesOnDisk();
        var artifacts = await host.Store.GetArtifactsAsync(storyboard.Id, Ct);
        var continuation = await host.Store.ContinueAsync(new ContinuationRequest(storyboard.Id, 1, Fork: true, DateTimeOffset.UtcNow), Ct);
        Assert.True(continuation.BranchCreated);
        Assert.Equal((filesBefore, bytesBefore), (host.BlobFilesOnDisk(), host.BlobBytesOnDisk()));

        // Through the runner: the fork's checkpoint shares every beat image by hash; only the new clips add blobs.
        var clipsBefore = host.BlobFilesOnDisk();
        var fork = await host.Runner.ContinueAsync(storyboard.Id, cancellationToken: Ct);
        Assert.True(fork.BranchCreated);
        var pinned = (await host.Queries.GetInputsAsync(fork.Checkpoint!.Id, Ct)).Where(p => p.Type == "beat_image").ToList();
        Assert.Equal(artifacts.Select(a => (a.Id, a.Version)), pinned.Select(p => (p.ArtifactId, p.Version)));
        var chunkBlobs = (await host.Store.GetArtifactsAsync(fork.Checkpoint.Id, Ct)).Select(a => a.Content.Blob!.Hash).Distinct().Count();
        Assert.Equal(clipsBefore + chunkBlobs, host.BlobFilesOnDisk());
    }
}
