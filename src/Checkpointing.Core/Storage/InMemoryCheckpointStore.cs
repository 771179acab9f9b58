using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Checkpointing.Storage;

/// <summary>
/// A thread-safe metadata store in memory. Everything is lost when the process ends: use it for tests, demos and
/// short-lived tools. Every method takes one lock, so each is atomic.
/// </summary>
public sealed class InMemoryCheckpointStore : ICheckpointStore, ICheckpointStoreNotifications
{
    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, Run> _runs = [];
    private readonly Dictionary<Guid, List<Branch>> _branches = [];
    private readonly Dictionary<Guid, StoredCheckpoint> _checkpoints = [];
    private readonly Dictionary<(Guid RunId, string Branch, int Phase), int> _latestVersions = [];
    private readonly Dictionary<Guid, List<StoredCheckpoint>> _checkpointsByRun = [];
    private readonly Dictionary<Guid, StoredArtifact> _artifacts = [];
    private readonly Dictionary<Guid, List<Continuation>> _continuations = [];
    private readonly List<StoredEvent> _events = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<(Guid RunId, string Execution, string Slot), string> _jobs = [];
    private readonly Dictionary<(Guid RunId, string Execution), SortedDictionary<int, CompletedUnit>> _units = [];

    /// <inheritdoc />
    public Task CreateRunAsync(Run run, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        lock (_lock)
        {
            if (!_runs.TryAdd(run.Id, run with { Input = run.Input.Clone() }))
            {
                throw new InvalidStateException($"Run '{run.Id}' already exists.");
            }

            _branches[run.Id] = [new Branch(run.Id, "main", null, null, run.CreatedAt)];
        }

        Signal();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<Run?> GetRunAsync(Guid runId, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult(_runs.GetValueOrDefault(runId));
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<Run>> ListRunsAsync(string? ownerId = null, int limit = 100, CancellationToken cancellationToken = default) =>
        ListRunsAsync(ownerId, limit, null, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<Run>> ListRunsAsync(string? ownerId, int limit, RunCursor? after, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            IReadOnlyList<Run> runs = _runs.Values
                .Where(r => ownerId is null || r.OwnerId == ownerId)
                .Where(r => after is null || r.CreatedAt < after.CreatedAt || (r.CreatedAt == after.CreatedAt && r.Id.CompareTo(after.Id) < 0))
                .OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id)
                .Take(limit)
                .ToList();
            return Task.FromResult(runs);
        }
    }

    /// <inheritdoc />
    public Task<Run> SetRunBudgetAsync(Guid runId, decimal? budget, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            var run = _runs.GetValueOrDefault(runId) ?? throw new RunNotFoundException(runId);
            run = run with { Budget = budget, UpdatedAt = at };
            _runs[runId] = run;
            Signal();
            return Task.FromResult(run);
        }
    }

    /// <inheritdoc />
    public Task<Run> UpdateRunStateAsync(Guid runId, RunState state, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (_lock)
        {
            var run = RunLease.Apply(_runs.GetValueOrDefault(runId) ?? throw new RunNotFoundException(runId), state, at);
            _runs[runId] = run;
            return Task.FromResult(run);
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<Branch>> ListBranchesAsync(Guid runId, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            IReadOnlyList<Branch> branches = _branches.TryGetValue(runId, out var list) ? list.ToList() : [];
            return Task.FromResult(branches);
        }
    }

    /// <inheritdoc />
    public Task<Branch> CreateBranchAsync(Guid runId, string parentBranch, Guid forkedFrom, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult(CreateBranchLocked(runId, parentBranch, forkedFrom, at));
        }
    }

    private Branch CreateBranchLocked(Guid runId, string parentBranch, Guid forkedFrom, DateTimeOffset at)
    {
        if (!_runs.ContainsKey(runId))
        {
            throw new RunNotFoundException(runId);
        }

        var branches = _branches[runId];
        if (!branches.Any(b => b.Name == parentBranch))
        {
            throw new InvalidStateException($"Run '{runId}' has no branch '{parentBranch}' to fork from.");
        }

        var branch = new Branch(runId, BranchNames.NextChild(parentBranch, branches.Select(b => b.Name)), parentBranch, forkedFrom, at);
        branches.Add(branch);
        return branch;
    }

    /// <inheritdoc />
    public Task<Checkpoint> CommitCheckpointAsync(NewCheckpoint checkpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        lock (_lock)
        {
            var run = _runs.GetValueOrDefault(checkpoint.RunId) ?? throw new RunNotFoundException(checkpoint.RunId);
            RunLease.CheckFence(run, checkpoint.FencingToken);
            if (!HasBranchLocked(run.Id, checkpoint.Branch))
            {
                throw new InvalidStateException($"Run '{run.Id}' has no branch '{checkpoint.Branch}'.");
            }

            checkpoint.CheckArtifacts();
            if (_checkpoints.ContainsKey(checkpoint.Id))
            {
                throw checkpoint.AlreadyExists();
            }

            var artifacts = checkpoint.Artifacts;
            var stored = new StoredArtifact[artifacts.Count];
            for (var i = 0; i < stored.Length; i++)
            {
                var a = artifacts[i];
                ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_artifacts, a.Id, out var exists);
                if (exists)
                {
                    // Nothing of the commit stays: the ids added before this one are its own (CheckArtifacts refuses repeats).
                    for (var j = 0; j < i; j++)
                    {
                        _artifacts.Remove(artifacts[j].Id);
                    }

                    throw checkpoint.AlreadyExists();
                }

                slot = stored[i] = new StoredArtifact(new Artifact
                {
                    Id = a.Id,
                    CheckpointId = checkpoint.Id,
                    Type = a.Type,
                    Key = a.Key,
                    Version = 1,
                    Content = a.Content,
                    Metadata = a.Metadata,
                    UnitIndex = a.UnitIndex,
                    UpdatedAt = checkpoint.CreatedAt,
                    UpdatedBy = checkpoint.CreatedBy,
                });
            }

            var saved = checkpoint.ToCheckpoint(1 + _latestVersions.GetValueOrDefault((checkpoint.RunId, checkpoint.Branch, checkpoint.Phase)));
            var entry = new StoredCheckpoint(saved, stored);
            _checkpoints[saved.Id] = entry;
            if (!_checkpointsByRun.TryGetValue(saved.RunId, out var ofRun))
            {
                _checkpointsByRun[saved.RunId] = ofRun = [];
            }

            ofRun.Add(entry);
            _latestVersions[(saved.RunId, saved.Branch, saved.Phase)] = saved.Version;
            if (checkpoint.RunCostDelta != 0m)
            {
                _runs[run.Id] = run with { Cost = run.Cost + checkpoint.RunCostDelta };
            }

            if (checkpoint.ExecutionKey is not null)
            {
                ClearJournalLocked(run.Id, checkpoint.ExecutionKey);
            }

            return Task.FromResult(saved);
        }
    }

    private bool HasBranchLocked(Guid runId, string name)
    {
        foreach (var branch in _branches[runId])
        {
            if (branch.Name == name)
            {
                return true;
            }
        }

        return false;
    }

    /// <inheritdoc />
    public Task<Checkpoint?> GetCheckpointAsync(Guid checkpointId, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult(_checkpoints.GetValueOrDefault(checkpointId)?.Checkpoint);
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<Checkpoint>> ListCheckpointsAsync(Guid runId, string? branch = null, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            // Indexed by run, in creation order: a run's listing never scans other runs.
            IReadOnlyList<Checkpoint> list = _checkpointsByRun.TryGetValue(runId, out var ofRun)
                ? ofRun.Select(c => c.Checkpoint).Where(c => branch is null || c.Branch == branch).ToList()
                : [];
            return Task.FromResult(list);
        }
    }

    /// <inheritdoc />
    public Task<RunContents?> GetRunContentsAsync(Guid runId, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            if (!_runs.TryGetValue(runId, out var run))
            {
                return Task.FromResult<RunContents?>(null);
            }

            var checkpoints = new List<Checkpoint>();
            if (_checkpointsByRun.TryGetValue(runId, out var ofRun))
            {
                checkpoints.Capacity = ofRun.Count;
                foreach (var stored in ofRun)
                {
                    checkpoints.Add(stored.Checkpoint);
                }
            }

            return Task.FromResult<RunContents?>(new RunContents { Run = run, Branches = _branches[runId].ToList(), Checkpoints = checkpoints });
        }
    }

    /// <inheritdoc />
    public Task<RunLatestCheckpoint?> GetLatestCheckpointAsync(Guid runId, CheckpointStatus status, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            if (!_runs.TryGetValue(runId, out var run))
            {
                return Task.FromResult<RunLatestCheckpoint?>(null);
            }

            Checkpoint? latest = null;
            if (_checkpointsByRun.TryGetValue(runId, out var ofRun))
            {
                // Newest first: stops at the first match, which for the current (pending) checkpoint is usually the last one.
                for (var i = ofRun.Count - 1; i >= 0 && latest is null; i--)
                {
                    var checkpoint = ofRun[i].Checkpoint;
                    latest = checkpoint.Status == status ? checkpoint : null;
                }
            }

            return Task.FromResult<RunLatestCheckpoint?>(new RunLatestCheckpoint { Run = run, Checkpoint = latest });
        }
    }

    /// <inheritdoc />
    public Task<Checkpoint> SetCheckpointStatusAsync(Guid checkpointId, CheckpointStatus status, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            var stored = _checkpoints.GetValueOrDefault(checkpointId) ?? throw new CheckpointNotFoundException(checkpointId);
            var checkpoint = stored.Checkpoint with
            {
                Status = status,
                ApprovedAt = status == CheckpointStatus.Approved ? stored.Checkpoint.ApprovedAt ?? at : stored.Checkpoint.ApprovedAt,
            };
            stored.Checkpoint = checkpoint;
            return Task.FromResult(checkpoint);
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<Artifact>> GetArtifactsAsync(Guid checkpointId, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            IReadOnlyList<Artifact> list = _checkpoints.TryGetValue(checkpointId, out var stored)
                ? Ordered(stored.Artifacts.Select(a => a.Current))
                : [];
            return Task.FromResult(list);
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<Artifact>> GetArtifactsAsync(Guid checkpointId, long revision, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            IReadOnlyList<Artifact> list = _checkpoints.TryGetValue(checkpointId, out var stored)
                ? Ordered(stored.Artifacts.Select(a => a.At(revision)).OfType<Artifact>())
                : [];
            return Task.FromResult(list);
        }
    }

    private static List<Artifact> Ordered(IEnumerable<Artifact> artifacts) => artifacts
        .OrderBy(a => a.Type, StringComparer.Ordinal)
        .ThenBy(a => a.UnitIndex ?? 0)
        .ThenBy(a => a.Key, StringComparer.Ordinal)
        .ToList();

    /// <inheritdoc />
    public Task<Artifact?> GetArtifactAsync(Guid checkpointId, string type, string key, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult(FindArtifact(_checkpoints.GetValueOrDefault(checkpointId), type, key)?.Current);
        }
    }

    private static StoredArtifact? FindArtifact(StoredCheckpoint? stored, string type, string key) =>
        stored is null ? null : Array.Find(stored.Artifacts, a => a.Current.Type == type && a.Current.Key == key);

    /// <inheritdoc />
    public Task<IReadOnlyList<ArtifactVersion>> GetArtifactHistoryAsync(Guid artifactId, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            IReadOnlyList<ArtifactVersion> list = _artifacts.TryGetValue(artifactId, out var stored) ? stored.History() : [];
            return Task.FromResult(list);
        }
    }

    /// <inheritdoc />
    public Task<ArtifactVersion?> GetArtifactVersionAsync(Guid artifactId, int version, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult(_artifacts.TryGetValue(artifactId, out var stored) ? stored.History().Find(v => v.Version == version) : null);
        }
    }

    /// <inheritdoc />
    public Task<Artifact> UpdateArtifactAsync(ArtifactUpdate update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        lock (_lock)
        {
            var stored = _checkpoints.GetValueOrDefault(update.CheckpointId) ?? throw new CheckpointNotFoundException(update.CheckpointId);
            var checkpoint = stored.Checkpoint;
            var artifact = FindArtifact(stored, update.Type, update.Key);
            var (updated, history) = update.ApplyTo(checkpoint, artifact?.Current);
            artifact!.Add(updated, history);
            stored.Checkpoint = checkpoint with
            {
                Revision = history.Revision,
                Cost = checkpoint.Cost + update.CostDelta,
                Output = update.NewCheckpointOutput?.Clone() ?? checkpoint.Output,
            };
            var run = _runs[checkpoint.RunId];
            _runs[run.Id] = run with { Cost = run.Cost + update.CostDelta };
            return Task.FromResult(updated);
        }
    }

    /// <inheritdoc />
    public Task<Continuation> ContinueAsync(ContinuationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (_lock)
        {
            var stored = _checkpoints.GetValueOrDefault(request.CheckpointId) ?? throw new CheckpointNotFoundException(request.CheckpointId);
            var checkpoint = stored.Checkpoint;
            var records = _continuations.GetValueOrDefault(checkpoint.Id);
            var plan = ContinuationRules.Decide(request, checkpoint, records?.Find(c => c.Revision == request.Revision), _runs[checkpoint.RunId]);
            if (plan.Record.Existing)
            {
                return Task.FromResult(plan.Record);
            }

            var continuation = plan.CreateBranch
                ? plan.Record with { Branch = CreateBranchLocked(checkpoint.RunId, checkpoint.Branch, checkpoint.Id, request.At).Name }
                : plan.Record;
            if (plan.Approve)
            {
                stored.Checkpoint = checkpoint with { Status = CheckpointStatus.Approved, ApprovedAt = checkpoint.ApprovedAt ?? request.At };
            }

            if (records is null)
            {
                _continuations[checkpoint.Id] = records = [];
            }

            records.Add(continuation);
            _runs[checkpoint.RunId] = ContinuationRules.NextRun(request, checkpoint, plan.Run!, continuation.Branch);
            Signal();
            return Task.FromResult(continuation);
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<Continuation>> ListContinuationsAsync(Guid checkpointId, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            IReadOnlyList<Continuation> list = _continuations.TryGetValue(checkpointId, out var records) ? records.ToList() : [];
            return Task.FromResult(list);
        }
    }

    /// <inheritdoc />
    public Task<Run?> TryClaimRunAsync(Guid runId, string owner, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        RunLease.ValidateClaim(owner, now, expiresAt);
        lock (_lock)
        {
            var run = _runs.GetValueOrDefault(runId) ?? throw new RunNotFoundException(runId);
            var claimed = RunLease.TryClaim(run, owner, now, expiresAt);
            if (claimed is not null)
            {
                _runs[runId] = claimed;
            }

            return Task.FromResult(claimed);
        }
    }

    /// <inheritdoc />
    public Task<Run?> ClaimNextRunAsync(string owner, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        RunLease.ValidateClaim(owner, now, expiresAt);
        lock (_lock)
        {
            var next = _runs.Values.Where(r => RunLease.HasWork(r, now)).OrderBy(r => r.UpdatedAt).ThenBy(r => r.Id).FirstOrDefault();
            if (next is null)
            {
                return Task.FromResult<Run?>(null);
            }

            var claimed = RunLease.TryClaim(next, owner, now, expiresAt)!;
            _runs[next.Id] = claimed;
            return Task.FromResult<Run?>(claimed);
        }
    }

    /// <inheritdoc />
    public Task RenewLeaseAsync(Guid runId, long fencingToken, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            var run = _runs.GetValueOrDefault(runId) ?? throw new RunNotFoundException(runId);
            if (run.LeaseToken != fencingToken || run.LeaseOwner is null)
            {
                throw new LeaseLostException(runId, fencingToken, run.LeaseToken, run.LeaseOwner);
            }

            _runs[runId] = run with { LeaseExpiresAt = expiresAt };
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task ReleaseLeaseAsync(Guid runId, long fencingToken, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            if (_runs.TryGetValue(runId, out var run) && run.LeaseToken == fencingToken && run.LeaseOwner is not null)
            {
                _runs[runId] = run with { LeaseOwner = null, LeaseExpiresAt = at };
            }
        }

        Signal();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<long> AppendEventAsync(Guid runId, string type, string payload, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(type);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(type.Length, 64, nameof(type));
        ArgumentNullException.ThrowIfNull(payload);
        long sequence;
        lock (_lock)
        {
            sequence = _events.Count + 1;
            _events.Add(new StoredEvent(sequence, runId, type, payload, at));
        }

        Signal();
        return Task.FromResult(sequence);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<StoredEvent>> ReadEventsAsync(Guid? runId, long afterSequence, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        lock (_lock)
        {
            // Sequence n is at index n - 1.
            var start = (int)Math.Clamp(afterSequence, 0, _events.Count);
            IReadOnlyList<StoredEvent> list = _events.Skip(start).Where(e => runId is null || e.RunId == runId).Take(limit).ToList();
            return Task.FromResult(list);
        }
    }

    /// <inheritdoc />
    public Task<long> GetLastEventSequenceAsync(Guid? runId, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            for (var i = _events.Count - 1; i >= 0; i--)
            {
                if (runId is null || _events[i].RunId == runId)
                {
                    return Task.FromResult(_events[i].Sequence);
                }
            }

            return Task.FromResult(0L);
        }
    }

    /// <inheritdoc />
    public async Task WaitForChangeAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        try
        {
            await Volatile.Read(ref _changed).Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Nothing changed in time: the caller reads the store anyway.
        }
    }

    private void Signal() =>
        Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <inheritdoc />
    public Task SaveJobAsync(Guid runId, string executionKey, string slot, string externalJobId, long? fencingToken = null, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            if (fencingToken is not null)
            {
                RunLease.CheckFence(_runs.GetValueOrDefault(runId) ?? throw new RunNotFoundException(runId), fencingToken);
            }

            _jobs[(runId, executionKey, slot)] = externalJobId;
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<string?> GetJobAsync(Guid runId, string executionKey, string slot, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult(_jobs.GetValueOrDefault((runId, executionKey, slot)));
        }
    }

    /// <inheritdoc />
    public Task SaveUnitAsync(Guid runId, string executionKey, CompletedUnit unit, long? fencingToken = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(unit);
        lock (_lock)
        {
            var run = _runs.GetValueOrDefault(runId) ?? throw new RunNotFoundException(runId);
            RunLease.CheckFence(run, fencingToken);
            if (!_units.TryGetValue((runId, executionKey), out var units))
            {
                _units[(runId, executionKey)] = units = [];
            }

            var previousCost = units.TryGetValue(unit.UnitIndex, out var previous) ? previous.Cost : 0m;
            units[unit.UnitIndex] = unit;
            _runs[runId] = run with { Cost = run.Cost + unit.Cost - previousCost };
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<CompletedUnit>> GetUnitsAsync(Guid runId, string executionKey, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            IReadOnlyList<CompletedUnit> list = _units.TryGetValue((runId, executionKey), out var units) ? units.Values.ToList() : [];
            return Task.FromResult(list);
        }
    }

    /// <inheritdoc />
    public Task ClearJournalAsync(Guid runId, string executionKey, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            ClearJournalLocked(runId, executionKey);
        }

        return Task.CompletedTask;
    }

    private void ClearJournalLocked(Guid runId, string executionKey)
    {
        _units.Remove((runId, executionKey));
        foreach (var key in _jobs.Keys.Where(k => k.RunId == runId && k.Execution == executionKey).ToList())
        {
            _jobs.Remove(key);
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<string> ListReferencedBlobsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        List<string> hashes;
        lock (_lock)
        {
            hashes = _artifacts.Values.SelectMany(a => a.Contents()).Select(c => c.Blob?.Hash)
                .Concat(_units.Values.SelectMany(u => u.Values).Select(u => u.Artifact.Content.Blob?.Hash))
                .OfType<string>()
                .Distinct(StringComparer.Ordinal)
                .ToList();
        }

        foreach (var hash in hashes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return hash;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <summary>A checkpoint with its artifacts, in commit order.</summary>
    private sealed class StoredCheckpoint(Checkpoint checkpoint, StoredArtifact[] artifacts)
    {
        public Checkpoint Checkpoint { get; set; } = checkpoint;

        public StoredArtifact[] Artifacts { get; } = artifacts;
    }

    /// <summary>
    /// An artifact at its current version with its history. Until the first edit the history is version 1 alone, which
    /// is the current artifact itself, so no list is kept for it.
    /// </summary>
    private sealed class StoredArtifact(Artifact current)
    {
        private List<ArtifactVersion>? _versions;

        public Artifact Current { get; private set; } = current;

        /// <summary>Adds an edit: <paramref name="updated"/> becomes current, <paramref name="version"/> its history entry.</summary>
        public void Add(Artifact updated, ArtifactVersion version)
        {
            _versions ??= [First()];
            _versions.Add(version);
            Current = updated;
        }

        /// <summary>Every version, oldest first (a copy).</summary>
        public List<ArtifactVersion> History() => _versions?.ToList() ?? [First()];

        public IEnumerable<ArtifactContent> Contents() => _versions?.Select(v => v.Content) ?? [Current.Content];

        /// <summary>The artifact as it was at a revision of its checkpoint, or null when it had no version yet.</summary>
        public Artifact? At(long revision)
        {
            if (_versions is null)
            {
                return revision >= 0 ? Current : null;
            }

            var version = _versions.FindLast(v => v.Revision <= revision);
            return version is null
                ? null
                : Current with
                {
                    Version = version.Version,
                    Content = version.Content,
                    Metadata = version.Metadata,
                    UpdatedAt = version.CreatedAt,
                    UpdatedBy = version.CreatedBy,
                    Reason = version.Reason,
                };
        }

        // Only while Current is still version 1, as the commit wrote it.
        private ArtifactVersion First() =>
            new(Current.Id, 1, null, Current.Content, Current.Metadata, Current.UpdatedAt, Current.UpdatedBy, null);
    }
}
