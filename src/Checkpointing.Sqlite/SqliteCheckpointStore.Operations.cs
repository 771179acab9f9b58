using Microsoft.Data.Sqlite;
using static Checkpointing.Sqlite.SqliteValues;

namespace Checkpointing.Sqlite;

public sealed partial class SqliteCheckpointStore
{
    private const string RunColumns =
        "id, pipeline, owner_id, input, auto_continue, status, current_phase, current_branch, parent_checkpoint_id, error, cost, budget, created_at, updated_at, " +
        "lease_owner, lease_expires_at, lease_token";

    private const string BranchColumns = "run_id, name, parent_branch, forked_from, created_at";

    private const string CheckpointColumns =
        "id, run_id, branch, phase, version, parent_id, status, approved_at, created_at, output, cost, created_by, edit_description, parent_revision, revision";

    private const string ArtifactColumns =
        "id, checkpoint_id, type, key, version, content, metadata, unit_index, updated_at, updated_by, reason";

    private const string VersionColumns =
        "artifact_id, version, parent_version, content, metadata, created_at, created_by, reason, revision";

    /// <inheritdoc />
    public Task CreateRunAsync(Run run, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        return WriteAsync("CreateRun", (c, tx) =>
        {
            if (Exists(c, tx, "SELECT 1 FROM runs WHERE id = $id;", ("$id", run.Id)))
            {
                throw new InvalidStateException($"Run '{run.Id}' already exists.");
            }

            Execute(c, tx, $"""
                INSERT INTO runs ({RunColumns}, created_ticks, updated_ticks, lease_expires_ticks)
                VALUES ($id, $pipeline, $owner, $input, $auto, $status, $phase, $branch, $parent, $error, $cost, $budget, $created, $updated,
                    $lease_owner, $lease_expires, $lease_token, $ticks, $updated_ticks, $lease_expires_ticks);
                """,
                ("$id", run.Id), ("$pipeline", run.Pipeline), ("$owner", run.OwnerId), ("$input", run.Input.GetRawText()),
                ("$auto", run.AutoContinue), ("$status", run.Status), ("$phase", run.CurrentPhase), ("$branch", run.CurrentBranch),
                ("$parent", run.ParentCheckpointId), ("$error", run.Error), ("$cost", run.Cost), ("$budget", run.Budget),
                ("$created", run.CreatedAt), ("$updated", run.UpdatedAt), ("$lease_owner", run.LeaseOwner), ("$lease_expires", run.LeaseExpiresAt),
                ("$lease_token", run.LeaseToken), ("$ticks", run.CreatedAt.UtcTicks), ("$updated_ticks", run.UpdatedAt.UtcTicks),
                ("$lease_expires_ticks", run.LeaseExpiresAt?.UtcTicks));
            InsertBranch(c, tx, new Branch(run.Id, BranchNames.Main, null, null, run.CreatedAt));
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<Run?> GetRunAsync(Guid runId, CancellationToken cancellationToken = default) =>
        ReadAsync((c, tx) => FindRun(c, tx, runId), cancellationToken, snapshot: false);

    /// <inheritdoc />
    public Task<IReadOnlyList<Run>> ListRunsAsync(string? ownerId = null, int limit = 100, CancellationToken cancellationToken = default) =>
        ListRunsAsync(ownerId, limit, null, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<Run>> ListRunsAsync(string? ownerId, int limit, RunCursor? after, CancellationToken cancellationToken = default)
    {
        if (limit <= 0)
        {
            return Task.FromResult<IReadOnlyList<Run>>([]);
        }

        return ReadAsync<IReadOnlyList<Run>>((c, tx) => Query(c, tx, MapRun, $"""
            SELECT {RunColumns} FROM runs
            WHERE ($owner IS NULL OR owner_id = $owner)
              AND ($after_ticks IS NULL OR created_ticks < $after_ticks OR (created_ticks = $after_ticks AND id < $after_id))
            ORDER BY created_ticks DESC, id DESC
            LIMIT $limit;
            """, ("$owner", ownerId), ("$limit", limit), ("$after_ticks", after?.CreatedAt.UtcTicks), ("$after_id", after?.Id)), cancellationToken, snapshot: false);
    }

    /// <inheritdoc />
    public Task<Run> SetRunBudgetAsync(Guid runId, decimal? budget, DateTimeOffset at, CancellationToken cancellationToken = default) =>
        WriteAsync("SetRunBudget", (c, tx) =>
        {
            var updated = Execute(c, tx, "UPDATE runs SET budget = $budget, updated_at = $at, updated_ticks = $ticks WHERE id = $id;",
                ("$id", runId), ("$budget", budget), ("$at", at), ("$ticks", at.UtcTicks));
            if (updated == 0)
            {
                throw new RunNotFoundException(runId);
            }

            return FindRun(c, tx, runId)!;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<Run> UpdateRunStateAsync(Guid runId, RunState state, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        return WriteAsync("UpdateRunState", (c, tx) =>
        {
            // Read, apply Core's rule (fence check, lease kept, released or ended), write back: one transaction.
            var run = RunLease.Apply(FindRun(c, tx, runId) ?? throw new RunNotFoundException(runId), state, at);
            WriteRunState(c, tx, run);
            return run;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<Branch>> ListBranchesAsync(Guid runId, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<Branch>>(
            (c, tx) => Query(c, tx, MapBranch, $"SELECT {BranchColumns} FROM branches WHERE run_id = $run ORDER BY seq;", ("$run", runId)),
            cancellationToken, snapshot: false);

    /// <inheritdoc />
    public Task<Branch> CreateBranchAsync(Guid runId, string parentBranch, Guid forkedFrom, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parentBranch);
        return WriteAsync("CreateBranch", (c, tx) => CreateBranch(c, tx, runId, parentBranch, forkedFrom, at), cancellationToken);
    }

    private Branch CreateBranch(SqliteConnection c, SqliteTransaction tx, Guid runId, string parentBranch, Guid forkedFrom, DateTimeOffset at)
    {
        if (!Exists(c, tx, "SELECT 1 FROM runs WHERE id = $id;", ("$id", runId)))
        {
            throw new RunNotFoundException(runId);
        }

        if (!Exists(c, tx, "SELECT 1 FROM branches WHERE run_id = $run AND name = $name;", ("$run", runId), ("$name", parentBranch)))
        {
            throw new InvalidStateException($"Run '{runId}' has no branch '{parentBranch}' to fork from.");
        }

        // Inside the write transaction: no other writer can add a child between this read and the insert.
        var children = Query(c, tx, r => r.GetString(0),
            "SELECT name FROM branches WHERE run_id = $run AND substr(name, 1, length($prefix)) = $prefix;",
            ("$run", runId), ("$prefix", parentBranch + "-"));
        var branch = new Branch(runId, BranchNames.NextChild(parentBranch, children), parentBranch, forkedFrom, at);
        InsertBranch(c, tx, branch);
        _logger.BranchCreated(runId, branch.Name, parentBranch);
        return branch;
    }

    private static void InsertBranch(SqliteConnection c, SqliteTransaction tx, Branch branch) =>
        Execute(c, tx, $"INSERT INTO branches ({BranchColumns}) VALUES ($run, $name, $parent, $forked, $at);",
            ("$run", branch.RunId), ("$name", branch.Name), ("$parent", branch.ParentBranch), ("$forked", branch.ForkedFrom), ("$at", branch.CreatedAt));

    /// <inheritdoc />
    public Task<Checkpoint> CommitCheckpointAsync(NewCheckpoint checkpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        return WriteAsync("CommitCheckpoint", (c, tx) =>
        {
            // One query reads the run (fence and cost), whether the branch exists and the highest version of the phase
            // on the branch; the checks below apply them in order. Inside the write transaction, so concurrent commits on
            // one branch never share a version.
            var state = QuerySingle(c, tx, r => new CommitState(MapRun(r), r.GetInt64(17) != 0, r.GetInt32(18)), $"""
                SELECT {RunColumns},
                    EXISTS (SELECT 1 FROM branches WHERE run_id = $run AND name = $branch),
                    (SELECT COALESCE(MAX(version), 0) FROM checkpoints WHERE run_id = $run AND branch = $branch AND phase = $phase)
                FROM runs WHERE id = $run;
                """, ("$run", checkpoint.RunId), ("$branch", checkpoint.Branch), ("$phase", checkpoint.Phase))
                ?? throw new RunNotFoundException(checkpoint.RunId);
            var run = state.Run;
            RunLease.CheckFence(run, checkpoint.FencingToken);
            if (!state.BranchExists)
            {
                throw new InvalidStateException($"Run '{run.Id}' has no branch '{checkpoint.Branch}'.");
            }

            // Duplicates within the checkpoint are refused here; an id already stored is found by the primary keys as the
            // rows go in (see the conflict below): the transaction then rolls back, so nothing is written.
            checkpoint.CheckArtifacts();

            var saved = checkpoint.ToCheckpoint(state.MaxVersion + 1);
            Execute(c, tx, $"""
                INSERT INTO checkpoints ({CheckpointColumns})
                VALUES ($id, $run, $branch, $phase, $version, $parent, $status, NULL, $created, $output, $cost, $by, $description, $parentRevision, 0);
                """,
                ("$id", saved.Id), ("$run", saved.RunId), ("$branch", saved.Branch), ("$phase", saved.Phase), ("$version", saved.Version),
                ("$parent", saved.ParentId), ("$status", saved.Status), ("$created", saved.CreatedAt), ("$output", Text(saved.Output)),
                ("$cost", saved.Cost), ("$by", saved.CreatedBy), ("$description", saved.EditDescription), ("$parentRevision", saved.ParentRevision));

            // One prepared statement for every artifact and its first version, its parameters set per artifact.
            using (var insert = Command(c, tx, $"""
                INSERT INTO artifacts ({ArtifactColumns})
                VALUES ($id, $checkpoint, $type, $key, 1, $content, $metadata, $unit, $at, $by, NULL);
                INSERT INTO artifact_versions ({VersionColumns}, blob_hash)
                VALUES ($id, 1, NULL, $content, $metadata, $at, $by, NULL, 0, $blob);
                """,
                ("$id", null), ("$checkpoint", saved.Id), ("$type", null), ("$key", null), ("$content", null), ("$metadata", null),
                ("$unit", null), ("$at", checkpoint.CreatedAt), ("$by", checkpoint.CreatedBy), ("$blob", null)))
            {
                foreach (var a in checkpoint.Artifacts)
                {
                    insert.Parameters["$id"].Value = SqliteValues.ToDb(a.Id);
                    insert.Parameters["$type"].Value = a.Type;
                    insert.Parameters["$key"].Value = a.Key;
                    insert.Parameters["$content"].Value = Json(a.Content);
                    insert.Parameters["$metadata"].Value = Json(a.Metadata);
                    insert.Parameters["$unit"].Value = SqliteValues.ToDb(a.UnitIndex);
                    insert.Parameters["$blob"].Value = SqliteValues.ToDb(a.Content.Blob?.Hash);
                    insert.ExecuteNonQuery();
                }
            }

            if (checkpoint.RunCostDelta != 0)
            {
                SetRunCost(c, tx, run.Id, run.Cost + checkpoint.RunCostDelta);
            }

            if (checkpoint.ExecutionKey is not null)
            {
                ClearJournal(c, tx, run.Id, checkpoint.ExecutionKey);
            }

            return saved;
        }, cancellationToken, conflict: e => e.SqliteExtendedErrorCode is SqliteConstraintPrimaryKey or SqliteConstraintUnique ? checkpoint.AlreadyExists(e) : null);
    }

    /// <inheritdoc />
    public Task<Checkpoint?> GetCheckpointAsync(Guid checkpointId, CancellationToken cancellationToken = default) =>
        ReadAsync((c, tx) => FindCheckpoint(c, tx, checkpointId), cancellationToken, snapshot: false);

    /// <inheritdoc />
    public Task<IReadOnlyList<Checkpoint>> ListCheckpointsAsync(Guid runId, string? branch = null, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<Checkpoint>>((c, tx) => Query(c, tx, MapCheckpoint, $"""
            SELECT {CheckpointColumns} FROM checkpoints
            WHERE run_id = $run AND ($branch IS NULL OR branch = $branch)
            ORDER BY seq;
            """, ("$run", runId), ("$branch", branch)), cancellationToken, snapshot: false);

    /// <inheritdoc />
    public Task<RunContents?> GetRunContentsAsync(Guid runId, CancellationToken cancellationToken = default) =>
        ReadAsync((c, tx) =>
        {
            // The run and its branches, then its checkpoints, in one read transaction (one snapshot).
            Run run;
            List<Branch> branches;
            using (var command = Command(c, tx, $"""
                SELECT {RunColumns} FROM runs WHERE id = $run;
                SELECT {BranchColumns} FROM branches WHERE run_id = $run ORDER BY seq;
                """, ("$run", runId)))
            using (var reader = command.ExecuteReader())
            {
                if (!reader.Read())
                {
                    return null;
                }

                run = MapRun(reader);
                reader.NextResult();
                branches = ReadAll(reader, MapBranch);
            }

            return new RunContents { Run = run, Checkpoints = ReadRunCheckpoints(c, runId), Branches = branches };
        }, cancellationToken);

    /// <inheritdoc />
    public Task<RunLatestCheckpoint?> GetLatestCheckpointAsync(Guid runId, CheckpointStatus status, CancellationToken cancellationToken = default) =>
        ReadAsync((c, tx) =>
        {
            using var command = Command(c, tx, $"""
                SELECT {RunColumns} FROM runs WHERE id = $run;
                SELECT {CheckpointColumns} FROM checkpoints WHERE run_id = $run AND status = $status ORDER BY seq DESC LIMIT 1;
                """, ("$run", runId), ("$status", status));
            using var reader = command.ExecuteReader();
            if (!reader.Read())
            {
                return null;
            }

            var run = MapRun(reader);
            reader.NextResult();
            return new RunLatestCheckpoint { Run = run, Checkpoint = reader.Read() ? MapCheckpoint(reader) : null };
        }, cancellationToken);

    /// <inheritdoc />
    public Task<Checkpoint> SetCheckpointStatusAsync(Guid checkpointId, CheckpointStatus status, DateTimeOffset at, CancellationToken cancellationToken = default) =>
        WriteAsync("SetCheckpointStatus", (c, tx) =>
        {
            var updated = Execute(c, tx, """
                UPDATE checkpoints
                SET status = $status,
                    approved_at = CASE WHEN $status = 'Approved' THEN COALESCE(approved_at, $at) ELSE approved_at END
                WHERE id = $id;
                """, ("$id", checkpointId), ("$status", status), ("$at", at));
            if (updated == 0)
            {
                throw new CheckpointNotFoundException(checkpointId);
            }

            return FindCheckpoint(c, tx, checkpointId)!;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<Artifact>> GetArtifactsAsync(Guid checkpointId, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<Artifact>>((c, tx) => Query(c, tx, MapArtifact, $"""
            SELECT {ArtifactColumns} FROM artifacts
            WHERE checkpoint_id = $checkpoint
            ORDER BY type, COALESCE(unit_index, 0), key;
            """, ("$checkpoint", checkpointId)), cancellationToken, snapshot: false);

    /// <inheritdoc />
    public Task<IReadOnlyList<Artifact>> GetArtifactsAsync(Guid checkpointId, long revision, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<Artifact>>((c, tx) => Query(c, tx, MapArtifact, """
            SELECT a.id, a.checkpoint_id, a.type, a.key, v.version, v.content, v.metadata, a.unit_index, v.created_at, v.created_by, v.reason
            FROM artifacts AS a
            JOIN artifact_versions AS v ON v.artifact_id = a.id
                AND v.version = (SELECT MAX(version) FROM artifact_versions WHERE artifact_id = a.id AND revision <= $revision)
            WHERE a.checkpoint_id = $checkpoint
            ORDER BY a.type, COALESCE(a.unit_index, 0), a.key;
            """, ("$checkpoint", checkpointId), ("$revision", revision)), cancellationToken);

    /// <inheritdoc />
    public Task<Artifact?> GetArtifactAsync(Guid checkpointId, string type, string key, CancellationToken cancellationToken = default) =>
        ReadAsync((c, tx) => FindArtifact(c, tx, checkpointId, type, key), cancellationToken, snapshot: false);

    /// <inheritdoc />
    public Task<IReadOnlyList<ArtifactVersion>> GetArtifactHistoryAsync(Guid artifactId, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<ArtifactVersion>>((c, tx) => Query(c, tx, MapVersion,
            $"SELECT {VersionColumns} FROM artifact_versions WHERE artifact_id = $id ORDER BY version;", ("$id", artifactId)), cancellationToken, snapshot: false);

    /// <inheritdoc />
    public Task<ArtifactVersion?> GetArtifactVersionAsync(Guid artifactId, int version, CancellationToken cancellationToken = default) =>
        ReadAsync((c, tx) => QuerySingle(c, tx, MapVersion,
            $"SELECT {VersionColumns} FROM artifact_versions WHERE artifact_id = $id AND version = $version;", ("$id", artifactId), ("$version", version)),
            cancellationToken, snapshot: false);

    /// <inheritdoc />
    public Task<Artifact> UpdateArtifactAsync(ArtifactUpdate update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        return WriteAsync("UpdateArtifact", (c, tx) =>
        {
            var checkpoint = FindCheckpoint(c, tx, update.CheckpointId) ?? throw new CheckpointNotFoundException(update.CheckpointId);
            var artifact = FindArtifact(c, tx, update.CheckpointId, update.Type, update.Key);
            var (updated, history) = update.ApplyTo(checkpoint, artifact);
            var content = Json(update.Content);
            var metadata = Json(update.Metadata);
            var changed = Execute(c, tx, """
                UPDATE artifacts SET version = $version, content = $content, metadata = $metadata,
                    updated_at = $at, updated_by = $by, reason = $reason
                WHERE id = $id AND version = $expected;
                """,
                ("$id", updated.Id), ("$version", updated.Version), ("$expected", artifact!.Version), ("$content", content),
                ("$metadata", metadata), ("$at", update.At), ("$by", update.UpdatedBy), ("$reason", update.Reason));
            if (changed != 1)
            {
                throw ConcurrencyConflictException.ForArtifact(update.CheckpointId, update.Type, update.Key, update.ExpectedVersion, artifact!.Version);
            }

            InsertVersion(c, tx, history, content, metadata);
            Execute(c, tx, "UPDATE checkpoints SET cost = $cost, output = $output, revision = $revision WHERE id = $id;",
                ("$id", checkpoint.Id), ("$cost", checkpoint.Cost + update.CostDelta), ("$revision", history.Revision),
                ("$output", Text(update.NewCheckpointOutput ?? checkpoint.Output)));
            var run = FindRun(c, tx, checkpoint.RunId)!;
            SetRunCost(c, tx, run.Id, run.Cost + update.CostDelta);
            return updated;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<Continuation> ContinueAsync(ContinuationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return WriteAsync("Continue", (c, tx) =>
        {
            var checkpoint = FindCheckpoint(c, tx, request.CheckpointId) ?? throw new CheckpointNotFoundException(request.CheckpointId);
            var existing = QuerySingle(c, tx, MapContinuation,
                $"SELECT {ContinuationColumns} FROM continuations WHERE checkpoint_id = $id AND revision = $revision;",
                ("$id", request.CheckpointId), ("$revision", request.Revision));
            var plan = ContinuationRules.Decide(request, checkpoint, existing, FindRun(c, tx, checkpoint.RunId)!);
            if (plan.Record.Existing)
            {
                return plan.Record;
            }

            var continuation = plan.CreateBranch
                ? plan.Record with { Branch = CreateBranch(c, tx, checkpoint.RunId, checkpoint.Branch, checkpoint.Id, request.At).Name }
                : plan.Record;
            if (plan.Approve)
            {
                Execute(c, tx, "UPDATE checkpoints SET status = $status, approved_at = COALESCE(approved_at, $at) WHERE id = $id;",
                    ("$id", checkpoint.Id), ("$status", CheckpointStatus.Approved), ("$at", request.At));
            }

            Execute(c, tx, $"""
                INSERT INTO continuations ({ContinuationColumns})
                VALUES ($id, $revision, $branch, $created, $at, $by, $description);
                """,
                ("$id", continuation.CheckpointId), ("$revision", continuation.Revision), ("$branch", continuation.Branch),
                ("$created", continuation.BranchCreated), ("$at", continuation.CreatedAt),
                ("$by", continuation.RequestedBy), ("$description", continuation.Description));
            WriteRunState(c, tx, ContinuationRules.NextRun(request, checkpoint, plan.Run!, continuation.Branch));
            return continuation;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task SaveJobAsync(Guid runId, string executionKey, string slot, string externalJobId, long? fencingToken = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(executionKey);
        ArgumentNullException.ThrowIfNull(slot);
        ArgumentNullException.ThrowIfNull(externalJobId);
        return WriteAsync("SaveJob", (c, tx) =>
        {
            if (fencingToken is not null)
            {
                RunLease.CheckFence(FindRun(c, tx, runId) ?? throw new RunNotFoundException(runId), fencingToken);
            }

            return Execute(c, tx, """
                INSERT INTO journal_jobs (run_id, execution_key, slot, external_job_id) VALUES ($run, $execution, $slot, $job)
                ON CONFLICT (run_id, execution_key, slot) DO UPDATE SET external_job_id = excluded.external_job_id;
                """, ("$run", runId), ("$execution", executionKey), ("$slot", slot), ("$job", externalJobId));
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<string?> GetJobAsync(Guid runId, string executionKey, string slot, CancellationToken cancellationToken = default) =>
        ReadAsync((c, tx) =>
        {
            using var command = Command(c, tx, "SELECT external_job_id FROM journal_jobs WHERE run_id = $run AND execution_key = $execution AND slot = $slot;",
                ("$run", runId), ("$execution", executionKey), ("$slot", slot));
            return command.ExecuteScalar() as string;
        }, cancellationToken, snapshot: false);

    /// <inheritdoc />
    public Task SaveUnitAsync(Guid runId, string executionKey, CompletedUnit unit, long? fencingToken = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(executionKey);
        ArgumentNullException.ThrowIfNull(unit);
        return WriteAsync("SaveUnit", (c, tx) =>
        {
            var run = FindRun(c, tx, runId) ?? throw new RunNotFoundException(runId);
            RunLease.CheckFence(run, fencingToken);
            var previous = QuerySingle(c, tx, r => r.GetString(0),
                "SELECT cost FROM journal_units WHERE run_id = $run AND execution_key = $execution AND unit_index = $unit;",
                ("$run", runId), ("$execution", executionKey), ("$unit", unit.UnitIndex));
            var previousCost = previous is null ? 0m : ParseMoney(previous);
            Execute(c, tx, """
                INSERT INTO journal_units (run_id, execution_key, unit_index, artifact, blob_hash, cost)
                VALUES ($run, $execution, $unit, $artifact, $blob, $cost)
                ON CONFLICT (run_id, execution_key, unit_index) DO UPDATE
                SET artifact = excluded.artifact, blob_hash = excluded.blob_hash, cost = excluded.cost;
                """,
                ("$run", runId), ("$execution", executionKey), ("$unit", unit.UnitIndex), ("$artifact", Json(unit.Artifact)),
                ("$blob", unit.Artifact.Content.Blob?.Hash), ("$cost", unit.Cost));
            SetRunCost(c, tx, runId, run.Cost + unit.Cost - previousCost);
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<CompletedUnit>> GetUnitsAsync(Guid runId, string executionKey, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<CompletedUnit>>((c, tx) => Query(c, tx,
            r => new CompletedUnit(r.GetInt32(0), FromJson<NewArtifact>(r.GetString(1)), Money(r, 2)),
            "SELECT unit_index, artifact, cost FROM journal_units WHERE run_id = $run AND execution_key = $execution ORDER BY unit_index;",
            ("$run", runId), ("$execution", executionKey)), cancellationToken, snapshot: false);

    /// <inheritdoc />
    public Task ClearJournalAsync(Guid runId, string executionKey, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(executionKey);
        return WriteAsync("ClearJournal", (c, tx) =>
        {
            ClearJournal(c, tx, runId, executionKey);
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<string> ListReferencedBlobsAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var hashes = await ReadAsync((c, tx) => Query(c, tx, r => r.GetString(0), """
            SELECT blob_hash FROM artifact_versions WHERE blob_hash IS NOT NULL
            UNION
            SELECT blob_hash FROM journal_units WHERE blob_hash IS NOT NULL;
            """), cancellationToken, snapshot: false).ConfigureAwait(false);
        await foreach (var hash in Yield(hashes, cancellationToken).ConfigureAwait(false))
        {
            yield return hash;
        }
    }

    private static void ClearJournal(SqliteConnection c, SqliteTransaction tx, Guid runId, string executionKey) =>
        Execute(c, tx, """
            DELETE FROM journal_units WHERE run_id = $run AND execution_key = $execution;
            DELETE FROM journal_jobs WHERE run_id = $run AND execution_key = $execution;
            """, ("$run", runId), ("$execution", executionKey));

    /// <summary>What a commit checks before it writes, read in one query.</summary>
    private sealed record CommitState(Run Run, bool BranchExists, int MaxVersion);

    private static void SetRunCost(SqliteConnection c, SqliteTransaction tx, Guid runId, decimal cost) =>
        Execute(c, tx, "UPDATE runs SET cost = $cost WHERE id = $id;", ("$id", runId), ("$cost", cost));

    private static void InsertVersion(SqliteConnection c, SqliteTransaction tx, ArtifactVersion version, string content, string metadata) =>
        Execute(c, tx, $"""
            INSERT INTO artifact_versions ({VersionColumns}, blob_hash)
            VALUES ($id, $version, $parent, $content, $metadata, $at, $by, $reason, $revision, $blob);
            """,
            ("$id", version.ArtifactId), ("$version", version.Version), ("$parent", version.ParentVersion), ("$content", content),
            ("$metadata", metadata), ("$at", version.CreatedAt), ("$by", version.CreatedBy), ("$reason", version.Reason),
            ("$revision", version.Revision), ("$blob", version.Content.Blob?.Hash));

    private static Run? FindRun(SqliteConnection c, SqliteTransaction? tx, Guid runId) =>
        QuerySingle(c, tx, MapRun, $"SELECT {RunColumns} FROM runs WHERE id = $id;", ("$id", runId));

    private static Checkpoint? FindCheckpoint(SqliteConnection c, SqliteTransaction? tx, Guid checkpointId) =>
        QuerySingle(c, tx, MapCheckpoint, $"SELECT {CheckpointColumns} FROM checkpoints WHERE id = $id;", ("$id", checkpointId));

    private static Artifact? FindArtifact(SqliteConnection c, SqliteTransaction? tx, Guid checkpointId, string type, string key) =>
        QuerySingle(c, tx, MapArtifact, $"SELECT {ArtifactColumns} FROM artifacts WHERE checkpoint_id = $checkpoint AND type = $type AND key = $key;",
            ("$checkpoint", checkpointId), ("$type", type), ("$key", key));

    private static Run MapRun(SqliteDataReader r) => new()
    {
        Id = Guid(r, 0),
        Pipeline = r.GetString(1),
        OwnerId = r.GetString(2),
        Input = Element(r, 3),
        AutoContinue = r.GetInt64(4) != 0,
        Status = Enum<RunStatus>(r, 5),
        CurrentPhase = NullableInt(r, 6),
        CurrentBranch = NullableString(r, 7),
        ParentCheckpointId = NullableGuid(r, 8),
        Error = NullableString(r, 9),
        Cost = Money(r, 10),
        Budget = NullableMoney(r, 11),
        CreatedAt = Time(r, 12),
        UpdatedAt = Time(r, 13),
        LeaseOwner = NullableString(r, 14),
        LeaseExpiresAt = NullableTime(r, 15),
        LeaseToken = r.GetInt64(16),
    };

    private static Branch MapBranch(SqliteDataReader r) => new(
        Guid(r, 0), r.GetString(1), NullableString(r, 2), NullableGuid(r, 3), Time(r, 4));

    private static Checkpoint MapCheckpoint(SqliteDataReader r) => new()
    {
        Id = Guid(r, 0),
        RunId = Guid(r, 1),
        Branch = r.GetString(2),
        Phase = r.GetInt32(3),
        Version = r.GetInt32(4),
        ParentId = NullableGuid(r, 5),
        Status = Enum<CheckpointStatus>(r, 6),
        ApprovedAt = NullableTime(r, 7),
        CreatedAt = Time(r, 8),
        Output = NullableElement(r, 9),
        Cost = Money(r, 10),
        CreatedBy = NullableString(r, 11),
        EditDescription = NullableString(r, 12),
        ParentRevision = r.IsDBNull(13) ? null : r.GetInt64(13),
        Revision = r.GetInt64(14),
    };

    private static Artifact MapArtifact(SqliteDataReader r) => new()
    {
        Id = Guid(r, 0),
        CheckpointId = Guid(r, 1),
        Type = r.GetString(2),
        Key = r.GetString(3),
        Version = r.GetInt32(4),
        Content = FromJson<ArtifactContent>(r.GetString(5)),
        Metadata = FromJson<ArtifactMetadata>(r.GetString(6)),
        UnitIndex = NullableInt(r, 7),
        UpdatedAt = Time(r, 8),
        UpdatedBy = NullableString(r, 9),
        Reason = NullableString(r, 10),
    };

    private static ArtifactVersion MapVersion(SqliteDataReader r) => new(
        Guid(r, 0), r.GetInt32(1), NullableInt(r, 2), FromJson<ArtifactContent>(r.GetString(3)), FromJson<ArtifactMetadata>(r.GetString(4)),
        Time(r, 5), NullableString(r, 6), NullableString(r, 7))
    {
        Revision = r.GetInt64(8),
    };
}
