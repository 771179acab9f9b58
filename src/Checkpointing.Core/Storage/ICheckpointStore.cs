using System.Text.Json;

namespace Checkpointing.Storage;

/// <summary>
/// The metadata store: runs, branches, checkpoints, artifacts with their version history, continuations
/// and the unit journal. Implementations must make every method atomic and safe to call concurrently.
/// </summary>
/// <remarks>
/// Provider packages implement this interface (in memory, SQLite, PostgreSQL) and prove it with the
/// conformance suite. Methods throw the SDK's exceptions (<see cref="RunNotFoundException"/>,
/// <see cref="ConcurrencyConflictException"/>, …) rather than driver exceptions, and leave the store
/// unchanged when they throw.
/// </remarks>
public interface ICheckpointStore
{
    /// <summary>Creates a run together with its <c>main</c> branch.</summary>
    /// <param name="run">The run to create.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <exception cref="InvalidStateException">A run with the same id exists.</exception>
    Task CreateRunAsync(Run run, CancellationToken cancellationToken = default);

    /// <summary>Reads a run, or null when it does not exist.</summary>
    /// <param name="runId">The run id.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<Run?> GetRunAsync(Guid runId, CancellationToken cancellationToken = default);

    /// <summary>Lists runs, newest first, optionally of one owner.</summary>
    /// <param name="ownerId">Only runs of this owner, or null for all.</param>
    /// <param name="limit">At most this many runs.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<IReadOnlyList<Run>> ListRunsAsync(string? ownerId = null, int limit = 100, CancellationToken cancellationToken = default);

    /// <summary>
    /// Lists runs, newest first (by <see cref="Run.CreatedAt"/>, then by id in the store's own order), optionally of one
    /// owner, starting after <paramref name="after"/>: the page that follows the one whose last run gave the cursor.
    /// </summary>
    /// <param name="ownerId">Only runs of this owner, or null for all.</param>
    /// <param name="limit">At most this many runs (1 or more).</param>
    /// <param name="after">Where the previous page ended, or null for the first page.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<IReadOnlyList<Run>> ListRunsAsync(string? ownerId, int limit, RunCursor? after, CancellationToken cancellationToken = default);

    /// <summary>Sets a run's budget (null for none), keeping everything else.</summary>
    /// <param name="runId">The run id.</param>
    /// <param name="budget">The new budget, or null for no limit.</param>
    /// <param name="at">The time of the change.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The updated run.</returns>
    /// <exception cref="RunNotFoundException">The run does not exist.</exception>
    Task<Run> SetRunBudgetAsync(Guid runId, decimal? budget, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>Sets a run's status, current phase, branch, parent checkpoint and error.</summary>
    /// <param name="runId">The run id.</param>
    /// <param name="state">The new state.</param>
    /// <param name="at">The time of the change.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The updated run.</returns>
    /// <exception cref="RunNotFoundException">The run does not exist.</exception>
    /// <exception cref="LeaseLostException"><see cref="RunState.FencingToken"/> is not the run's; nothing is written.</exception>
    /// <remarks>Stores apply the change with <see cref="RunLease.Apply"/>: a fenced change keeps (or releases) the lease, an unfenced one ends it.</remarks>
    Task<Run> UpdateRunStateAsync(Guid runId, RunState state, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>Lists the run's branches in creation order.</summary>
    /// <param name="runId">The run id.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<IReadOnlyList<Branch>> ListBranchesAsync(Guid runId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Creates a child branch of <paramref name="parentBranch"/> named <c>{parent}-{n}</c>, with n one more than the
    /// highest existing immediate child counter. Concurrent calls never get the same name.
    /// </summary>
    /// <param name="runId">The run id.</param>
    /// <param name="parentBranch">The branch forked from.</param>
    /// <param name="forkedFrom">The checkpoint forked from.</param>
    /// <param name="at">The creation time.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The new branch.</returns>
    /// <exception cref="RunNotFoundException">The run does not exist.</exception>
    /// <exception cref="InvalidStateException">The parent branch does not exist.</exception>
    Task<Branch> CreateBranchAsync(Guid runId, string parentBranch, Guid forkedFrom, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>
    /// Saves a checkpoint with all its artifacts (each at version 1) in one transaction, assigns its version (one more
    /// than the highest for the run, branch and phase), adds <see cref="NewCheckpoint.RunCostDelta"/> to the run's cost
    /// and clears the unit journal of <see cref="NewCheckpoint.ExecutionKey"/>.
    /// </summary>
    /// <param name="checkpoint">The checkpoint to save.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The saved checkpoint.</returns>
    /// <exception cref="RunNotFoundException">The run does not exist.</exception>
    /// <exception cref="InvalidStateException">The branch does not exist, or two artifacts share a type and key.</exception>
    /// <exception cref="LeaseLostException"><see cref="NewCheckpoint.FencingToken"/> is not the run's; nothing is written.</exception>
    Task<Checkpoint> CommitCheckpointAsync(NewCheckpoint checkpoint, CancellationToken cancellationToken = default);

    /// <summary>Reads a checkpoint, or null when it does not exist.</summary>
    /// <param name="checkpointId">The checkpoint id.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<Checkpoint?> GetCheckpointAsync(Guid checkpointId, CancellationToken cancellationToken = default);

    /// <summary>Lists a run's checkpoints in creation order, optionally of one branch.</summary>
    /// <param name="runId">The run id.</param>
    /// <param name="branch">Only this branch, or null for all.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<IReadOnlyList<Checkpoint>> ListCheckpointsAsync(Guid runId, string? branch = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads a run together with its branches and its checkpoints (each in creation order, as
    /// <see cref="ListBranchesAsync"/> and <see cref="ListCheckpointsAsync"/> list them), or null when the run does not
    /// exist: everything a status view needs, in one round trip to the store. A store that cannot read all three in one
    /// snapshot reads the run first, then the checkpoints, then the branches, so that every checkpoint and branch that
    /// something read before refers to is in the result.
    /// </summary>
    /// <param name="runId">The run id.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<RunContents?> GetRunContentsAsync(Guid runId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads a run together with its last checkpoint in creation order that has <paramref name="status"/> (null when none
    /// has), or null when the run does not exist, in one round trip to the store and without loading the run's other
    /// checkpoints (an index by run, status and creation order finds it).
    /// </summary>
    /// <param name="runId">The run id.</param>
    /// <param name="status">The status of the checkpoint to find.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<RunLatestCheckpoint?> GetLatestCheckpointAsync(Guid runId, CheckpointStatus status, CancellationToken cancellationToken = default);

    /// <summary>Sets a checkpoint's status. Approving sets <see cref="Checkpoint.ApprovedAt"/> once.</summary>
    /// <param name="checkpointId">The checkpoint id.</param>
    /// <param name="status">The new status.</param>
    /// <param name="at">The time of the change.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The updated checkpoint.</returns>
    /// <exception cref="CheckpointNotFoundException">The checkpoint does not exist.</exception>
    Task<Checkpoint> SetCheckpointStatusAsync(Guid checkpointId, CheckpointStatus status, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>Lists a checkpoint's current artifacts, ordered by type, then unit index, then key.</summary>
    /// <param name="checkpointId">The checkpoint id.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<IReadOnlyList<Artifact>> GetArtifactsAsync(Guid checkpointId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Lists a checkpoint's artifacts as they stood at <paramref name="revision"/> of the checkpoint (see
    /// <see cref="Checkpoint.Revision"/>): each at its latest version written at or before that revision, ordered as
    /// <see cref="GetArtifactsAsync(Guid, CancellationToken)"/>. An unknown checkpoint gives an empty list.
    /// </summary>
    /// <param name="checkpointId">The checkpoint id.</param>
    /// <param name="revision">The checkpoint revision (0 for the artifacts as committed).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<IReadOnlyList<Artifact>> GetArtifactsAsync(Guid checkpointId, long revision, CancellationToken cancellationToken = default);

    /// <summary>Reads one current artifact, or null when the checkpoint does not hold it.</summary>
    /// <param name="checkpointId">The checkpoint id.</param>
    /// <param name="type">The artifact type.</param>
    /// <param name="key">The artifact key.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<Artifact?> GetArtifactAsync(Guid checkpointId, string type, string key, CancellationToken cancellationToken = default);

    /// <summary>Lists every version of an artifact, oldest first, the current one last.</summary>
    /// <param name="artifactId">The artifact id.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<IReadOnlyList<ArtifactVersion>> GetArtifactHistoryAsync(Guid artifactId, CancellationToken cancellationToken = default);

    /// <summary>Reads one version of an artifact, or null when it does not exist.</summary>
    /// <param name="artifactId">The artifact id.</param>
    /// <param name="version">The version.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<ArtifactVersion?> GetArtifactVersionAsync(Guid artifactId, int version, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes a new version of an artifact if its current version is <see cref="ArtifactUpdate.ExpectedVersion"/>:
    /// bumps the version and the checkpoint's <see cref="Checkpoint.Revision"/> (the new version is written at the new
    /// revision), keeps the previous one in history, adds the cost to the checkpoint and the run, and optionally replaces
    /// the checkpoint's output, all in one transaction (see <see cref="ArtifactUpdate.ApplyTo"/>).
    /// </summary>
    /// <param name="update">The update.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The artifact at its new version.</returns>
    /// <exception cref="CheckpointNotFoundException">The checkpoint does not exist.</exception>
    /// <exception cref="ArtifactNotFoundException">The checkpoint does not hold the artifact.</exception>
    /// <exception cref="CheckpointAbandonedException">The checkpoint was abandoned.</exception>
    /// <exception cref="ConcurrencyConflictException">The current version is not the expected one.</exception>
    Task<Artifact> UpdateArtifactAsync(ArtifactUpdate update, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records that a checkpoint is being continued at a given revision of its artifacts, in one transaction, as
    /// <see cref="ContinuationRules"/> decides: returns the existing record when this (checkpoint, revision) was
    /// continued before; otherwise approves the checkpoint if pending, creates a child branch when
    /// <see cref="ContinuationRequest.Fork"/> is set (named by <see cref="BranchNames.NextChild"/>), stores the record, and
    /// sets the run <see cref="RunStatus.Running"/> (or <see cref="RunStatus.Queued"/> with
    /// <see cref="ContinuationRequest.Queue"/>) at the next phase on the continuation's branch with the checkpoint as
    /// parent. The cost does not depend on the number of artifacts: nothing per artifact is read or written.
    /// </summary>
    /// <param name="request">The continuation.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <exception cref="CheckpointNotFoundException">The checkpoint does not exist.</exception>
    /// <exception cref="CheckpointAbandonedException">The checkpoint was abandoned.</exception>
    /// <exception cref="InvalidStateException">The revision is above the checkpoint's.</exception>
    /// <exception cref="LeaseLostException"><see cref="ContinuationRequest.FencingToken"/> is not the run's; nothing is written.</exception>
    Task<Continuation> ContinueAsync(ContinuationRequest request, CancellationToken cancellationToken = default);

    /// <summary>Lists the continuations recorded for a checkpoint, oldest first.</summary>
    /// <param name="checkpointId">The checkpoint.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<IReadOnlyList<Continuation>> ListContinuationsAsync(Guid checkpointId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Claims a run's lease for <paramref name="owner"/> when nobody holds it at <paramref name="now"/> (never held,
    /// released or expired), as <see cref="RunLease.TryClaim"/> decides: the run's <see cref="Run.LeaseToken"/> grows by
    /// one and becomes the new owner's fencing token.
    /// </summary>
    /// <param name="runId">The run.</param>
    /// <param name="owner">The claiming executor (1 to <see cref="RunLease.MaxOwnerLength"/> characters).</param>
    /// <param name="now">The time of the claim.</param>
    /// <param name="expiresAt">When the lease ends unless renewed (after <paramref name="now"/>).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The run with the new lease, or null when another claim holds it.</returns>
    /// <exception cref="RunNotFoundException">The run does not exist.</exception>
    Task<Run?> TryClaimRunAsync(Guid runId, string owner, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken cancellationToken = default);

    /// <summary>
    /// Claims the lease of one run that has work (<see cref="RunLease.HasWork"/>: queued, or running with its lease
    /// ended), the least recently updated first. Concurrent callers never get the same run.
    /// </summary>
    /// <param name="owner">The claiming executor.</param>
    /// <param name="now">The time of the claim.</param>
    /// <param name="expiresAt">When the lease ends unless renewed.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The claimed run with its new lease, or null when no run has work.</returns>
    Task<Run?> ClaimNextRunAsync(string owner, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken cancellationToken = default);

    /// <summary>Extends the lease of the executor holding <paramref name="fencingToken"/>.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="fencingToken">The executor's fencing token.</param>
    /// <param name="expiresAt">The new end of the lease.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <exception cref="LeaseLostException">The token is not the run's, or the lease was released.</exception>
    Task RenewLeaseAsync(Guid runId, long fencingToken, DateTimeOffset expiresAt, CancellationToken cancellationToken = default);

    /// <summary>Ends the lease of the executor holding <paramref name="fencingToken"/>; does nothing when the token is stale.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="fencingToken">The executor's fencing token.</param>
    /// <param name="at">The time of the release (recorded as <see cref="Run.LeaseExpiresAt"/>).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task ReleaseLeaseAsync(Guid runId, long fencingToken, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>Appends an event to the store's event log and returns its sequence number (greater than every earlier one).</summary>
    /// <param name="runId">The run.</param>
    /// <param name="type">The event kind (1 to 64 characters).</param>
    /// <param name="payload">The event as JSON.</param>
    /// <param name="at">When it happened.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<long> AppendEventAsync(Guid runId, string type, string payload, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>Reads logged events with a sequence number above <paramref name="afterSequence"/>, in order, optionally of one run.</summary>
    /// <param name="runId">Only this run's events, or null for all.</param>
    /// <param name="afterSequence">Where the reader stopped last (0 for the beginning).</param>
    /// <param name="limit">At most this many events (1 or more).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<IReadOnlyList<StoredEvent>> ReadEventsAsync(Guid? runId, long afterSequence, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// The sequence number of the latest logged event of a run (or of any run), 0 when there is none: where a reader that
    /// wants only what comes next starts. One indexed read, whatever the length of the log.
    /// </summary>
    /// <param name="runId">Only this run's events, or null for all.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<long> GetLastEventSequenceAsync(Guid? runId, CancellationToken cancellationToken = default);

    /// <summary>Records the external job started for a slot of a phase execution, before it is awaited.</summary>
    /// <param name="runId">The run id.</param>
    /// <param name="executionKey">Identifies the phase execution (or edit) the job belongs to.</param>
    /// <param name="slot">Identifies the job within the execution, e.g. <c>unit-3/0</c>.</param>
    /// <param name="externalJobId">The backend's job id.</param>
    /// <param name="fencingToken">The executor's fencing token, or null for a write outside a run's execution (an edit).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <exception cref="LeaseLostException">The token is not the run's; nothing is written.</exception>
    Task SaveJobAsync(Guid runId, string executionKey, string slot, string externalJobId, long? fencingToken = null, CancellationToken cancellationToken = default);

    /// <summary>Reads the external job recorded for a slot, or null.</summary>
    /// <param name="runId">The run id.</param>
    /// <param name="executionKey">The phase execution.</param>
    /// <param name="slot">The slot.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<string?> GetJobAsync(Guid runId, string executionKey, string slot, CancellationToken cancellationToken = default);

    /// <summary>Records a finished unit of a phase execution and adds its cost to the run. Saving the same unit again replaces it.</summary>
    /// <param name="runId">The run id.</param>
    /// <param name="executionKey">The phase execution.</param>
    /// <param name="unit">The finished unit.</param>
    /// <param name="fencingToken">The executor's fencing token, or null for a write outside a run's execution (an edit).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <exception cref="RunNotFoundException">The run does not exist.</exception>
    /// <exception cref="LeaseLostException">The token is not the run's; nothing is written.</exception>
    Task SaveUnitAsync(Guid runId, string executionKey, CompletedUnit unit, long? fencingToken = null, CancellationToken cancellationToken = default);

    /// <summary>Lists the finished units recorded for a phase execution, by unit index.</summary>
    /// <param name="runId">The run id.</param>
    /// <param name="executionKey">The phase execution.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task<IReadOnlyList<CompletedUnit>> GetUnitsAsync(Guid runId, string executionKey, CancellationToken cancellationToken = default);

    /// <summary>Removes every job and unit recorded for a phase execution.</summary>
    /// <param name="runId">The run id.</param>
    /// <param name="executionKey">The phase execution.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    Task ClearJournalAsync(Guid runId, string executionKey, CancellationToken cancellationToken = default);

    /// <summary>Lists every blob hash that any artifact version or journal entry references (for garbage collection).</summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    IAsyncEnumerable<string> ListReferencedBlobsAsync(CancellationToken cancellationToken = default);
}

/// <summary>A checkpoint to commit with its artifacts.</summary>
public sealed record NewCheckpoint
{
    /// <summary>The new checkpoint's id.</summary>
    public required Guid Id { get; init; }

    /// <summary>The run.</summary>
    public required Guid RunId { get; init; }

    /// <summary>The branch (must exist).</summary>
    public required string Branch { get; init; }

    /// <summary>The phase number.</summary>
    public required int Phase { get; init; }

    /// <summary>The parent checkpoint, or null for phase 1.</summary>
    public Guid? ParentId { get; init; }

    /// <summary>The parent's revision the phase consumed (see <see cref="Checkpoint.ParentRevision"/>); null without a parent.</summary>
    public long? ParentRevision { get; init; }

    /// <summary>The phase's JSON summary.</summary>
    public JsonElement? Output { get; init; }

    /// <summary>The checkpoint's cost.</summary>
    public decimal Cost { get; init; }

    /// <summary>Who caused it.</summary>
    public string? CreatedBy { get; init; }

    /// <summary>A description of the edits it follows.</summary>
    public string? EditDescription { get; init; }

    /// <summary>Its artifacts, each saved at version 1 (revision 0).</summary>
    public IReadOnlyList<NewArtifact> Artifacts { get; init; } = [];

    /// <summary>The phase execution whose journal is cleared on commit, or null.</summary>
    public string? ExecutionKey { get; init; }

    /// <summary>Cost to add to the run (cost not yet added through <see cref="ICheckpointStore.SaveUnitAsync"/>).</summary>
    public decimal RunCostDelta { get; init; }

    /// <summary>The commit time.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>The executor's fencing token (see <see cref="RunState.FencingToken"/>), or null for a commit outside a lease.</summary>
    public long? FencingToken { get; init; }

    /// <summary>
    /// Checks what every store must refuse before writing: two artifacts with one type and key, or with one id.
    /// </summary>
    /// <exception cref="InvalidStateException">Two artifacts share a type and key, or an id.</exception>
    public void CheckArtifacts()
    {
        var artifacts = Artifacts;
        if (artifacts.Count < 2)
        {
            return;
        }

        // A few artifacts are compared pair by pair: cheaper than hashing every type and key into two sets.
        if (artifacts.Count <= 16)
        {
            for (var i = 1; i < artifacts.Count; i++)
            {
                var a = artifacts[i];
                var sameId = false;
                for (var j = 0; j < i; j++)
                {
                    var b = artifacts[j];
                    if (a.Key == b.Key && a.Type == b.Type)
                    {
                        throw Twice(a);
                    }

                    sameId |= a.Id == b.Id;
                }

                if (sameId)
                {
                    throw AlreadyExists();
                }
            }

            return;
        }

        var keys = new HashSet<(string, string)>(artifacts.Count);
        var ids = new HashSet<Guid>(artifacts.Count);
        foreach (var a in artifacts)
        {
            if (!keys.Add((a.Type, a.Key)))
            {
                throw Twice(a);
            }

            if (!ids.Add(a.Id))
            {
                throw AlreadyExists();
            }
        }

        static InvalidStateException Twice(NewArtifact a) =>
            new($"The checkpoint holds artifact '{a.Type}/{a.Key}' twice; each type and key must be unique.");
    }

    /// <summary>The error every store throws when the checkpoint or one of its artifact ids exists already.</summary>
    /// <param name="cause">The database error that detected it, if any.</param>
    public InvalidStateException AlreadyExists(Exception? cause = null) => new($"Checkpoint '{Id}' or one of its artifacts already exists.", cause);

    /// <summary>The checkpoint as saved: pending, at <paramref name="version"/>, revision 0.</summary>
    /// <param name="version">The version the store allocated (one more than the highest for the run, branch and phase).</param>
    public Checkpoint ToCheckpoint(int version) => new()
    {
        Id = Id,
        RunId = RunId,
        Branch = Branch,
        Phase = Phase,
        Version = version,
        ParentId = ParentId,
        ParentRevision = ParentId is null ? null : ParentRevision ?? 0,
        Revision = 0,
        Status = CheckpointStatus.Pending,
        CreatedAt = CreatedAt,
        Output = Output?.Clone(),
        Cost = Cost,
        CreatedBy = CreatedBy,
        EditDescription = EditDescription,
    };
}

/// <summary>An artifact produced by a phase, before it is committed.</summary>
/// <param name="Id">The artifact id.</param>
/// <param name="Type">The artifact type.</param>
/// <param name="Key">The artifact key.</param>
/// <param name="Content">The content.</param>
/// <param name="Metadata">How it was produced.</param>
/// <param name="UnitIndex">The unit index for unit-based phases.</param>
public sealed record NewArtifact(Guid Id, string Type, string Key, ArtifactContent Content, ArtifactMetadata Metadata, int? UnitIndex = null);

/// <summary>A finished unit recorded in the journal of a phase execution.</summary>
/// <param name="UnitIndex">The 1-based unit index.</param>
/// <param name="Artifact">The artifact the unit produced.</param>
/// <param name="Cost">What the unit cost.</param>
public sealed record CompletedUnit(int UnitIndex, NewArtifact Artifact, decimal Cost);

/// <summary>A new version of an artifact.</summary>
public sealed record ArtifactUpdate
{
    /// <summary>The checkpoint that owns the artifact.</summary>
    public required Guid CheckpointId { get; init; }

    /// <summary>The artifact type.</summary>
    public required string Type { get; init; }

    /// <summary>The artifact key.</summary>
    public required string Key { get; init; }

    /// <summary>The version the writer based its change on.</summary>
    public required int ExpectedVersion { get; init; }

    /// <summary>The new content.</summary>
    public required ArtifactContent Content { get; init; }

    /// <summary>How the new version was produced.</summary>
    public required ArtifactMetadata Metadata { get; init; }

    /// <summary>Who wrote it.</summary>
    public string? UpdatedBy { get; init; }

    /// <summary>Why it was written.</summary>
    public string? Reason { get; init; }

    /// <summary>Cost to add to the checkpoint and the run.</summary>
    public decimal CostDelta { get; init; }

    /// <summary>When set, replaces the checkpoint's output.</summary>
    public JsonElement? NewCheckpointOutput { get; init; }

    /// <summary>The time of the change.</summary>
    public required DateTimeOffset At { get; init; }

    /// <summary>
    /// Applies this update to the artifact's current version, as every store must: checks that the checkpoint is not
    /// abandoned and the expected version, then returns the artifact at its next version and the history entry to
    /// append, written at the checkpoint's next revision (<paramref name="checkpoint"/>'s revision + 1, which the store
    /// stores with it).
    /// </summary>
    /// <param name="checkpoint">The owning checkpoint as currently stored (read in the same transaction).</param>
    /// <param name="current">The artifact as currently stored, or null when the checkpoint does not hold it.</param>
    /// <returns>The updated artifact and its history entry.</returns>
    /// <exception cref="CheckpointAbandonedException">The checkpoint was abandoned.</exception>
    /// <exception cref="ArtifactNotFoundException"><paramref name="current"/> is null.</exception>
    /// <exception cref="ConcurrencyConflictException">The current version is not <see cref="ExpectedVersion"/>.</exception>
    public (Artifact Updated, ArtifactVersion History) ApplyTo(Checkpoint checkpoint, Artifact? current)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        if (checkpoint.Status == CheckpointStatus.Abandoned)
        {
            throw new CheckpointAbandonedException(checkpoint.Id);
        }

        if (current is null)
        {
            throw new ArtifactNotFoundException(CheckpointId, Type, Key);
        }

        if (current.Version != ExpectedVersion)
        {
            throw ConcurrencyConflictException.ForArtifact(CheckpointId, Type, Key, ExpectedVersion, current.Version);
        }

        var updated = current with
        {
            Version = current.Version + 1,
            Content = Content,
            Metadata = Metadata,
            UpdatedAt = At,
            UpdatedBy = UpdatedBy,
            Reason = Reason,
        };
        return (updated, new ArtifactVersion(current.Id, updated.Version, current.Version, Content, Metadata, At, UpdatedBy, Reason) { Revision = checkpoint.Revision + 1 });
    }
}

/// <summary>A request to record the continuation of a checkpoint.</summary>
/// <param name="CheckpointId">The checkpoint being continued.</param>
/// <param name="Revision">
/// The checkpoint's revision the next phase consumes (see <see cref="Checkpoint.Revision"/>): it identifies the state of
/// the checkpoint's artifacts, and edits made after it never leak into the phase.
/// </param>
/// <param name="Fork">Whether the next phase runs on a new child branch.</param>
/// <param name="At">The time of the continuation.</param>
public sealed record ContinuationRequest(Guid CheckpointId, long Revision, bool Fork, DateTimeOffset At)
{
    /// <summary>Who continued the checkpoint (recorded on the next checkpoint).</summary>
    public string? RequestedBy { get; init; }

    /// <summary>A description of the edits (recorded on the next checkpoint).</summary>
    public string? Description { get; init; }

    /// <summary>The continuing executor's fencing token, or null outside a lease.</summary>
    public long? FencingToken { get; init; }

    /// <summary>When true, the run is left <see cref="RunStatus.Queued"/> at the next phase (for a worker) instead of Running.</summary>
    public bool Queue { get; init; }
}

/// <summary>A recorded continuation of a checkpoint.</summary>
/// <param name="CheckpointId">The checkpoint continued.</param>
/// <param name="Revision">The checkpoint's revision the next phase consumes.</param>
/// <param name="Branch">The branch the next phase runs on.</param>
/// <param name="BranchCreated">Whether a branch was created for it.</param>
/// <param name="CreatedAt">When it was first recorded.</param>
/// <param name="Existing">True when this call found an earlier record instead of creating one.</param>
public sealed record Continuation(Guid CheckpointId, long Revision, string Branch, bool BranchCreated, DateTimeOffset CreatedAt, bool Existing)
{
    /// <summary>Who continued the checkpoint.</summary>
    public string? RequestedBy { get; init; }

    /// <summary>A description of the edits.</summary>
    public string? Description { get; init; }
}
