using Checkpointing.Internal;

namespace Checkpointing;

/// <summary>A checkpoint with its current artifacts and short-lived read URLs for blob artifacts.</summary>
/// <param name="Checkpoint">The checkpoint.</param>
/// <param name="Artifacts">Its current artifacts.</param>
public sealed record CheckpointDetails(Checkpoint Checkpoint, IReadOnlyList<ArtifactView> Artifacts);

/// <summary>An artifact with a read URL when its content is a blob.</summary>
/// <param name="Artifact">The artifact.</param>
/// <param name="ReadUrl">A short-lived URL to read the blob, or null for inline JSON.</param>
public sealed record ArtifactView(Artifact Artifact, Uri? ReadUrl);

/// <summary>A branch's leaf checkpoint.</summary>
/// <param name="Branch">The branch name.</param>
/// <param name="Leaf">The branch's latest checkpoint that has no child on the same branch.</param>
/// <param name="CanContinue">Whether the leaf can be continued (not terminal, not abandoned, run not cancelled).</param>
public sealed record ActiveBranch(string Branch, Checkpoint Leaf, bool CanContinue);

/// <summary>A node of the checkpoint tree.</summary>
/// <param name="Checkpoint">The checkpoint.</param>
/// <param name="Children">Checkpoints continued from it.</param>
public sealed record CheckpointNode(Checkpoint Checkpoint, IReadOnlyList<CheckpointNode> Children);

/// <summary>Everything a status page shows about a run.</summary>
/// <param name="Run">The run.</param>
/// <param name="Current">The current checkpoint (latest pending), if any.</param>
/// <param name="Tree">The checkpoint tree's roots.</param>
/// <param name="ActiveBranches">The leaf of every branch.</param>
/// <param name="Branches">Every branch.</param>
/// <param name="Cost">The run's total cost.</param>
public sealed record RunSnapshot(Run Run, Checkpoint? Current, IReadOnlyList<CheckpointNode> Tree, IReadOnlyList<ActiveBranch> ActiveBranches, IReadOnlyList<Branch> Branches, decimal Cost);

/// <summary>One page of runs, newest first.</summary>
/// <param name="Runs">The runs of this page.</param>
/// <param name="ContinuationToken">Pass it to <see cref="CheckpointQueries.ListRunsPageAsync"/> for the next page; null on the last page.</param>
public sealed record RunPage(IReadOnlyList<Run> Runs, string? ContinuationToken)
{
    /// <summary>The largest page.</summary>
    public const int MaxLimit = 1000;

    internal static string Token(RunCursor cursor) =>
        Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes($"1:{cursor.CreatedAt.UtcTicks}:{cursor.Id:N}")).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    internal static RunCursor ParseToken(string token)
    {
        try
        {
            var base64 = token.Replace('-', '+').Replace('_', '/');
            base64 += new string('=', (4 - (base64.Length % 4)) % 4);
            var parts = System.Text.Encoding.ASCII.GetString(Convert.FromBase64String(base64)).Split(':');
            if (parts is ["1", var ticks, var id] && long.TryParse(ticks, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var t)
                && t is >= 0 && t <= DateTimeOffset.MaxValue.UtcTicks && Guid.TryParseExact(id, "N", out var guid))
            {
                return new RunCursor(new DateTimeOffset(t, TimeSpan.Zero), guid);
            }
        }
        catch (FormatException)
        {
        }

        throw new InvalidInputException("continuationToken", "The continuation token is not one returned by ListRunsPageAsync; pass a page's ContinuationToken unchanged, or null for the first page.");
    }
}

/// <summary>Read-only views of runs, checkpoints, branches and artifact history, and the event stream.</summary>
public sealed class CheckpointQueries
{
    private readonly SdkServices _sdk;

    internal CheckpointQueries(SdkServices sdk) => _sdk = sdk;

    /// <summary>Reads a run.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <exception cref="RunNotFoundException">The run does not exist.</exception>
    public Task<Run> GetRunAsync(Guid runId, CancellationToken cancellationToken = default) => _sdk.GetRunAsync(runId, cancellationToken);

    /// <summary>Lists the newest runs, newest first. For more than one page, use <see cref="ListRunsPageAsync"/>.</summary>
    /// <param name="ownerId">Only this owner's runs, or null for all.</param>
    /// <param name="limit">At most this many (1 or more).</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="limit"/> is 0 or less.</exception>
    public Task<IReadOnlyList<Run>> ListRunsAsync(string? ownerId = null, int limit = 100, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        return _sdk.Store.ListRunsAsync(ownerId, limit, cancellationToken);
    }

    /// <summary>
    /// Lists runs page by page, newest first. Pass the <see cref="RunPage.ContinuationToken"/> of a page to get the next
    /// one; it is null on the last page. Paging is by position, not by count: runs started after the first page was
    /// read do not shift later pages (they appear only on a new first page), and no run is listed twice.
    /// </summary>
    /// <param name="ownerId">Only this owner's runs, or null for all.</param>
    /// <param name="limit">At most this many runs per page, 1 to <see cref="RunPage.MaxLimit"/>.</param>
    /// <param name="continuationToken">The previous page's token, or null for the first page.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="limit"/> is outside 1 to <see cref="RunPage.MaxLimit"/>.</exception>
    /// <exception cref="InvalidInputException"><paramref name="continuationToken"/> was not returned by this method.</exception>
    public async Task<RunPage> ListRunsPageAsync(string? ownerId = null, int limit = 100, string? continuationToken = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, RunPage.MaxLimit);
        var after = continuationToken is null ? null : RunPage.ParseToken(continuationToken);
        var runs = await _sdk.Store.ListRunsAsync(ownerId, limit + 1, after, cancellationToken).ConfigureAwait(false);
        return runs.Count > limit
            ? new RunPage(runs.Take(limit).ToList(), RunPage.Token(RunCursor.After(runs[limit - 1])))
            : new RunPage(runs, null);
    }

    /// <summary>Lists a run's checkpoints in creation order, optionally of one branch.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="branch">Only this branch, or null.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <exception cref="RunNotFoundException">The run does not exist.</exception>
    public async Task<IReadOnlyList<Checkpoint>> ListCheckpointsAsync(Guid runId, string? branch = null, CancellationToken cancellationToken = default)
    {
        await _sdk.GetRunAsync(runId, cancellationToken).ConfigureAwait(false);
        return await _sdk.Store.ListCheckpointsAsync(runId, branch, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads a checkpoint with its current artifacts and read URLs valid for <see cref="CheckpointingOptions.ReadUrlLifetime"/>.</summary>
    /// <param name="checkpointId">The checkpoint.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <exception cref="CheckpointNotFoundException">The checkpoint does not exist.</exception>
    public async Task<CheckpointDetails> GetCheckpointAsync(Guid checkpointId, CancellationToken cancellationToken = default)
    {
        var checkpoint = await _sdk.GetCheckpointAsync(checkpointId, cancellationToken).ConfigureAwait(false);
        var artifacts = await _sdk.Store.GetArtifactsAsync(checkpointId, cancellationToken).ConfigureAwait(false);
        var views = new List<ArtifactView>(artifacts.Count);
        foreach (var artifact in artifacts)
        {
            var url = artifact.Content.Blob is { } blob
                ? await _sdk.Blobs.GetReadUrlAsync(blob, _sdk.Options.ReadUrlLifetime, cancellationToken).ConfigureAwait(false)
                : null;
            views.Add(new ArtifactView(artifact, url));
        }

        return new CheckpointDetails(checkpoint, views);
    }

    /// <summary>The run's current checkpoint: the latest pending one, or null. One read of the store.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <exception cref="RunNotFoundException">The run does not exist.</exception>
    public async Task<Checkpoint?> GetCurrentCheckpointAsync(Guid runId, CancellationToken cancellationToken = default)
    {
        var read = await _sdk.Store.GetLatestCheckpointAsync(runId, RunViews.CurrentStatus, cancellationToken).ConfigureAwait(false)
            ?? throw new RunNotFoundException(runId);
        return read.Checkpoint;
    }

    /// <summary>The leaf checkpoint of every branch, with whether it can be continued. One read of the store.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <exception cref="RunNotFoundException">The run does not exist.</exception>
    public async Task<IReadOnlyList<ActiveBranch>> GetActiveBranchesAsync(Guid runId, CancellationToken cancellationToken = default)
    {
        var contents = await GetRunContentsAsync(runId, cancellationToken).ConfigureAwait(false);
        return RunViews.ActiveBranches(contents.Run, TerminalPhase(contents.Run), contents.Checkpoints, RunViews.Parents(contents.Checkpoints));
    }

    /// <summary>The checkpoint tree: roots (phase 1 checkpoints) with their children. One read of the store.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <exception cref="RunNotFoundException">The run does not exist.</exception>
    public async Task<IReadOnlyList<CheckpointNode>> GetTreeAsync(Guid runId, CancellationToken cancellationToken = default)
    {
        var checkpoints = (await GetRunContentsAsync(runId, cancellationToken).ConfigureAwait(false)).Checkpoints;
        return RunViews.Tree(checkpoints, RunViews.Parents(checkpoints));
    }

    /// <summary>Every version of an artifact, oldest first.</summary>
    /// <param name="checkpointId">The checkpoint that owns it.</param>
    /// <param name="type">The artifact type.</param>
    /// <param name="key">The artifact key.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <exception cref="ArtifactNotFoundException">The checkpoint holds no such artifact.</exception>
    public async Task<IReadOnlyList<ArtifactVersion>> GetArtifactHistoryAsync(Guid checkpointId, string type, string key, CancellationToken cancellationToken = default)
    {
        var artifact = await GetArtifactAsync(checkpointId, type, key, cancellationToken).ConfigureAwait(false);
        return await _sdk.Store.GetArtifactHistoryAsync(artifact.Id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Lists exactly which artifact versions of its lineage a checkpoint was built from, lowest phase first: its parent's
    /// artifacts as they stood at <see cref="Checkpoint.ParentRevision"/>, then what the parent itself was built from, up
    /// to phase 1. Later edits of the lineage never change the answer. Empty for phase 1.
    /// </summary>
    /// <param name="checkpointId">The checkpoint.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <exception cref="CheckpointNotFoundException">The checkpoint does not exist.</exception>
    public async Task<IReadOnlyList<ArtifactPin>> GetInputsAsync(Guid checkpointId, CancellationToken cancellationToken = default)
    {
        var checkpoint = await _sdk.GetCheckpointAsync(checkpointId, cancellationToken).ConfigureAwait(false);
        if (checkpoint.ParentId is not { } parentId)
        {
            return [];
        }

        var parent = await _sdk.GetCheckpointAsync(parentId, cancellationToken).ConfigureAwait(false);
        return await PhaseInputs.ResolveAsync(_sdk.Store, parent, checkpoint.ParentRevision ?? 0, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads the current version of one artifact.</summary>
    /// <param name="checkpointId">The checkpoint that owns it.</param>
    /// <param name="type">The artifact type.</param>
    /// <param name="key">The artifact key.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <exception cref="ArtifactNotFoundException">The checkpoint holds no such artifact.</exception>
    public async Task<Artifact> GetArtifactAsync(Guid checkpointId, string type, string key, CancellationToken cancellationToken = default)
    {
        ArtifactKeys.Validate(type, "type");
        ArtifactKeys.Validate(key);
        await _sdk.GetCheckpointAsync(checkpointId, cancellationToken).ConfigureAwait(false);
        return await _sdk.Store.GetArtifactAsync(checkpointId, type, key, cancellationToken).ConfigureAwait(false)
            ?? throw new ArtifactNotFoundException(checkpointId, type, key);
    }

    /// <summary>Reads one version of an artifact (current or from history).</summary>
    /// <param name="checkpointId">The checkpoint that owns it.</param>
    /// <param name="type">The artifact type.</param>
    /// <param name="key">The artifact key.</param>
    /// <param name="version">The version.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <exception cref="ArtifactNotFoundException">No such artifact or version.</exception>
    public async Task<ArtifactVersion> GetArtifactVersionAsync(Guid checkpointId, string type, string key, int version, CancellationToken cancellationToken = default)
    {
        var artifact = await GetArtifactAsync(checkpointId, type, key, cancellationToken).ConfigureAwait(false);
        return await _sdk.Store.GetArtifactVersionAsync(artifact.Id, version, cancellationToken).ConfigureAwait(false)
            ?? throw new ArtifactNotFoundException(checkpointId, type, key, version);
    }

    /// <summary>Opens the bytes of a blob artifact version.</summary>
    /// <param name="content">The content (from an artifact or a version).</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <exception cref="InvalidStateException">The content is inline JSON.</exception>
    public Task<Stream> OpenContentAsync(ArtifactContent content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var blob = content.Blob ?? throw new InvalidStateException("The content is inline JSON; read ArtifactContent.Json instead.");
        return _sdk.Blobs.OpenReadAsync(blob.Hash, cancellationToken);
    }

    /// <summary>A status snapshot: the run, current checkpoint, tree, branches and cost, from one read of the store.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <exception cref="RunNotFoundException">The run does not exist.</exception>
    public async Task<RunSnapshot> GetStatusAsync(Guid runId, CancellationToken cancellationToken = default)
    {
        var contents = await GetRunContentsAsync(runId, cancellationToken).ConfigureAwait(false);
        var (run, checkpoints) = (contents.Run, contents.Checkpoints);
        var parents = RunViews.Parents(checkpoints);
        return new RunSnapshot(
            run,
            RunViews.Current(checkpoints),
            RunViews.Tree(checkpoints, parents),
            RunViews.ActiveBranches(run, TerminalPhase(run), checkpoints, parents),
            contents.Branches,
            run.Cost);
    }

    /// <summary>
    /// Streams events from now until the token is cancelled. For one run, the stream follows the store's event log, so it
    /// carries the events of phases executing in any process (in order, each with its
    /// <see cref="CheckpointEvent.Sequence"/>); for every run (<paramref name="runId"/> null) it carries the events of
    /// this process only.
    /// </summary>
    /// <param name="runId">The run, or null for every run of this process.</param>
    /// <param name="cancellationToken">Ends the stream.</param>
    public IAsyncEnumerable<CheckpointEvent> WatchAsync(Guid? runId, CancellationToken cancellationToken = default)
    {
        if (runId is not { } id)
        {
            return _sdk.Events.SubscribeAsync(null, cancellationToken);
        }

        // Where "now" is in the log is read at once, not at the first MoveNext, so events logged right after this call are kept.
        return EventLog.FollowAsync(_sdk, id, _sdk.Store.GetLastEventSequenceAsync(id, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// Streams a run's events logged after <paramref name="afterSequence"/> (0 for all of them), in order, then new ones as
    /// they happen in any process, until the token is cancelled. Resuming with the last <see cref="CheckpointEvent.Sequence"/>
    /// seen loses nothing and repeats nothing.
    /// </summary>
    /// <param name="runId">The run.</param>
    /// <param name="afterSequence">The sequence of the last event already seen, or 0.</param>
    /// <param name="cancellationToken">Ends the stream.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="afterSequence"/> is negative.</exception>
    public IAsyncEnumerable<CheckpointEvent> WatchAsync(Guid runId, long afterSequence, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(afterSequence);
        return EventLog.FollowAsync(_sdk, runId, Task.FromResult(afterSequence), cancellationToken);
    }

    /// <summary>Reads the run with its branches and checkpoints in one call to the store.</summary>
    private async Task<RunContents> GetRunContentsAsync(Guid runId, CancellationToken cancellationToken) =>
        await _sdk.Store.GetRunContentsAsync(runId, cancellationToken).ConfigureAwait(false) ?? throw new RunNotFoundException(runId);

    private int TerminalPhase(Run run) => _sdk.Pipelines.Get(run.Pipeline).TerminalPhase;
}
