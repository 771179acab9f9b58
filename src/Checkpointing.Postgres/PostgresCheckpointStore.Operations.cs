using System.Text.Json;
using Npgsql;

namespace Checkpointing.Postgres;

public sealed partial class PostgresCheckpointStore
{
    private const string RunColumns =
        "id, pipeline, owner_id, input, auto_continue, status, current_phase, current_branch, parent_checkpoint_id, error, cost, budget, created_at, updated_at, " +
        "lease_owner, lease_expires_at, lease_token";

    private const string ContinuationColumns = "checkpoint_id, revision, branch, branch_created, created_at, requested_by, description";

    private const string BranchColumns = "run_id, name, parent_branch, forked_from, created_at";

    private const string CheckpointColumns =
        "id, run_id, branch, phase, version, parent_id, status, approved_at, created_at, output, cost, created_by, edit_description, parent_revision, revision";

    /// <summary>How many columns <see cref="CheckpointColumns"/> names.</summary>
    private const int CheckpointColumnCount = 15;

    private const string ArtifactColumns =
        "id, checkpoint_id, type, key, version, content, metadata, unit_index, updated_at, updated_by, reason";

    private const string VersionColumns =
        "artifact_id, version, parent_version, content, metadata, created_at, created_by, reason, revision";

    // The values of the rows the store inserts, column for column with the lists above (a version row also takes
    // blob_hash, last); change them together with the lists. A commit's checkpoint comes from its parameters at the
    // version the statement allocates (v), every artifact and its first version from one element of the unnested
    // arrays (a); an edit's version row from the parameters of VersionParameters.
    private const string NewCheckpointValues =
        "@id, @run, @branch, @phase, v.version, @parent::uuid, @status, NULL, @created, @output, @cost, @by::text, @description::text, @parent_revision::bigint, 0";

    private const string NewArtifactValues =
        "a.id, @id, a.type, a.key, 1, a.content, a.metadata, a.unit_index, @created, @by::text, NULL";

    private const string FirstVersionValues =
        "a.id, 1, NULL::integer, a.content, a.metadata, @created, @by::text, NULL::text, 0, a.blob_hash";

    private const string VersionValues =
        "@id, @version, @parent::integer, @content, @metadata, @at, @by::text, @reason::text, @revision, @blob::text";

    /// <inheritdoc />
    public Task CreateRunAsync(Run run, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        return InTransactionAsync("CreateRun", async db =>
        {
            // A second run with the same id fails on the primary key (23505 runs_pkey), mapped to InvalidStateException.
            await ExecuteAsync(db, $"""
                INSERT INTO {_s}.runs ({RunColumns})
                VALUES (@id, @pipeline, @owner, @input, @auto, @status, @phase, @branch, @parent, @error, @cost, @budget, @created, @updated,
                    @lease_owner, @lease_expires, @lease_token);
                """,
                ("id", run.Id), ("pipeline", run.Pipeline), ("owner", run.OwnerId), ("input", ToJsonb(run.Input)),
                ("auto", run.AutoContinue), ("status", run.Status), ("phase", run.CurrentPhase), ("branch", run.CurrentBranch),
                ("parent", run.ParentCheckpointId), ("error", run.Error), ("cost", run.Cost), ("budget", run.Budget),
                ("created", run.CreatedAt), ("updated", run.UpdatedAt), ("lease_owner", run.LeaseOwner), ("lease_expires", run.LeaseExpiresAt),
                ("lease_token", run.LeaseToken)).ConfigureAwait(false);
            await InsertBranchAsync(db, new Branch(run.Id, BranchNames.Main, null, null, run.CreatedAt)).ConfigureAwait(false);
            await NotifyIfClaimableAsync(db, run).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<Run?> GetRunAsync(Guid runId, CancellationToken cancellationToken = default) =>
        InTransactionAsync("GetRun", db => FindRunAsync(db, runId), cancellationToken);

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

        return InTransactionAsync<IReadOnlyList<Run>>("ListRuns", async db => await QueryAsync(db, MapRun, $"""
            SELECT {RunColumns} FROM {_s}.runs
            WHERE (@owner::text IS NULL OR owner_id = @owner::text)
              AND (@after_at::timestamptz IS NULL OR (created_at, id) < (@after_at::timestamptz, @after_id::uuid))
            ORDER BY created_at DESC, id DESC
            LIMIT @limit;
            """, ("owner", ownerId), ("limit", limit), ("after_at", after?.CreatedAt), ("after_id", after?.Id)).ConfigureAwait(false), cancellationToken);
    }

    /// <inheritdoc />
    public Task<Run> SetRunBudgetAsync(Guid runId, decimal? budget, DateTimeOffset at, CancellationToken cancellationToken = default) =>
        InTransactionAsync("SetRunBudget", async db =>
        {
            var updated = await QueryAsync(db, MapRun, $"""
                UPDATE {_s}.runs SET budget = @budget, updated_at = @at
                WHERE id = @id
                RETURNING {RunColumns};
                """, ("id", runId), ("budget", budget), ("at", at)).ConfigureAwait(false);
            return updated.Count == 1 ? updated[0] : throw new RunNotFoundException(runId);
        }, cancellationToken);

    /// <inheritdoc />
    public Task<Run> UpdateRunStateAsync(Guid runId, RunState state, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        return InTransactionAsync("UpdateRunState", async db =>
        {
            // RunLease.Apply in one statement. Unfenced (@token NULL): the change ends the lease (no owner; the expiry
            // becomes the time of the change when there was an owner) and bumps the token, fencing out the holder.
            // Fenced: applied only while the run's token is @token (the row is re-checked after any concurrent update),
            // keeping the lease or, with @release, ending it at @at. The token never changes on a fenced change.
            var updated = await QueryAsync(db, MapRun, $"""
                UPDATE {_s}.runs SET status = @status, current_phase = @phase, current_branch = @branch,
                    parent_checkpoint_id = @parent, error = @error, updated_at = @at,
                    lease_owner = CASE WHEN @token::bigint IS NULL OR @release THEN NULL ELSE lease_owner END,
                    lease_expires_at = CASE
                        WHEN @token::bigint IS NULL THEN CASE WHEN lease_owner IS NULL THEN lease_expires_at ELSE @at END
                        WHEN @release THEN @at
                        ELSE lease_expires_at END,
                    lease_token = CASE WHEN @token::bigint IS NULL THEN lease_token + 1 ELSE lease_token END
                WHERE id = @id AND (@token::bigint IS NULL OR lease_token = @token::bigint)
                RETURNING {RunColumns};
                """,
                ("id", runId), ("status", state.Status), ("phase", state.Phase), ("branch", state.Branch),
                ("parent", state.ParentCheckpointId), ("error", state.Error), ("at", at), ("token", state.FencingToken),
                ("release", state.ReleaseLease)).ConfigureAwait(false);
            if (updated.Count == 0)
            {
                throw await FenceFailureAsync(db, runId, state.FencingToken).ConfigureAwait(false);
            }

            await NotifyIfClaimableAsync(db, updated[0]).ConfigureAwait(false);
            return updated[0];
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<Branch>> ListBranchesAsync(Guid runId, CancellationToken cancellationToken = default) =>
        InTransactionAsync<IReadOnlyList<Branch>>("ListBranches", async db => await QueryAsync(db, MapBranch,
            $"SELECT {BranchColumns} FROM {_s}.branches WHERE run_id = @run ORDER BY seq;", ("run", runId)).ConfigureAwait(false),
            cancellationToken);

    /// <inheritdoc />
    public Task<Branch> CreateBranchAsync(Guid runId, string parentBranch, Guid forkedFrom, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parentBranch);
        return InTransactionAsync("CreateBranch", db => CreateBranchAsync(db, runId, parentBranch, forkedFrom, at), cancellationToken);
    }

    private async Task<Branch> CreateBranchAsync(Db db, Guid runId, string parentBranch, Guid forkedFrom, DateTimeOffset at)
    {
        // The run's row lock serialises every fork of the run: the next statement sees all children committed before it.
        await LockRunAsync(db, runId).ConfigureAwait(false);
        if (await ScalarAsync(db, $"SELECT 1 FROM {_s}.branches WHERE run_id = @run AND name = @name;", ("run", runId), ("name", parentBranch)).ConfigureAwait(false) is null)
        {
            throw new InvalidStateException($"Run '{runId}' has no branch '{parentBranch}' to fork from.");
        }

        var children = await QueryAsync(db, r => r.GetString(0),
            $"SELECT name FROM {_s}.branches WHERE run_id = @run AND starts_with(name, @prefix);",
            ("run", runId), ("prefix", parentBranch + "-")).ConfigureAwait(false);
        var branch = new Branch(runId, BranchNames.NextChild(parentBranch, children), parentBranch, forkedFrom, at);
        await InsertBranchAsync(db, branch).ConfigureAwait(false);
        _logger.BranchCreated(runId, branch.Name, parentBranch);
        return branch;
    }

    private Task<int> InsertBranchAsync(Db db, Branch branch) =>
        ExecuteAsync(db, $"INSERT INTO {_s}.branches ({BranchColumns}) VALUES (@run, @name, @parent, @forked, @at);",
            ("run", branch.RunId), ("name", branch.Name), ("parent", branch.ParentBranch), ("forked", branch.ForkedFrom), ("at", branch.CreatedAt));

    /// <summary>
    /// Locks the run's row until the transaction ends and checks a writer's fencing token against it: a claim (an
    /// UPDATE of the row) waits for this transaction, so a fenced write either commits before the next claim or is refused.
    /// </summary>
    /// <param name="db">The call's transaction.</param>
    /// <param name="runId">The run.</param>
    /// <param name="fencingToken">The writer's token, or null for a write outside any lease.</param>
    /// <returns>The run as locked.</returns>
    /// <exception cref="RunNotFoundException">The run does not exist.</exception>
    /// <exception cref="LeaseLostException">The token is not the run's.</exception>
    private async Task<Run> LockRunAsync(Db db, Guid runId, long? fencingToken = null)
    {
        var run = await QuerySingleAsync(db, MapRun, $"SELECT {RunColumns} FROM {_s}.runs WHERE id = @id FOR UPDATE;", ("id", runId)).ConfigureAwait(false)
            ?? throw new RunNotFoundException(runId);
        RunLease.CheckFence(run, fencingToken);
        return run;
    }

    /// <summary>
    /// The first statement of a fenced batch: locks the run's row until the batch's implicit transaction ends (a claim
    /// waits for it) and reads the run's token and owner. The statements after it take their snapshots under the lock
    /// and repeat the fence as their condition, so they write only when <see cref="CheckFence"/> then passes.
    /// </summary>
    /// <param name="runId">The run.</param>
    private NpgsqlBatchCommand LockRunCommand(Guid runId) =>
        BatchCommand($"SELECT lease_token, lease_owner FROM {_s}.runs WHERE id = @run FOR UPDATE;", ("run", runId));

    /// <summary>
    /// Runs a batch that starts with <see cref="LockRunCommand"/> and reads every result (so that an error of a later
    /// statement is thrown here): returns the run as locked, or null when it does not exist.
    /// </summary>
    private static async Task<LockedRun?> ExecuteFencedAsync(NpgsqlBatch batch, CancellationToken cancellationToken)
    {
        LockedRun? run = null;
        var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                run = new LockedRun(reader.GetInt64(0), NullableString(reader, 1));
            }

            while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false))
            {
            }
        }

        return run;
    }

    /// <summary>
    /// The fence of a write, decided on the run's row as the write locked it: <see cref="RunNotFoundException"/> when
    /// it does not exist, <see cref="LeaseLostException"/> when the writer's token is not the run's (as
    /// <see cref="RunLease.CheckFence(Run, long?)"/> decides).
    /// </summary>
    private static void CheckFence(Guid runId, long? fencingToken, [System.Diagnostics.CodeAnalysis.NotNull] LockedRun? run)
    {
        if (run is not { } locked)
        {
            throw new RunNotFoundException(runId);
        }

        RunLease.CheckFence(runId, locked.Token, locked.Owner, fencingToken);
    }

    /// <summary>A run's row as a fenced write locked it.</summary>
    /// <param name="Token">The run's fencing token.</param>
    /// <param name="Owner">The lease owner, or null.</param>
    private readonly record struct LockedRun(long Token, string? Owner);

    /// <inheritdoc />
    /// <remarks>
    /// One statement, one round trip, no explicit transaction. Its first part locks the run's row (<c>FOR UPDATE</c>, so
    /// a claim waits for the commit) and reads its token and whether the branch exists; the checkpoint is inserted at the
    /// next version only while the token is the writer's and the branch exists, and everything else (every artifact and
    /// its first version from arrays, the run's cost, the journal's removal) only when the checkpoint was, so a refused
    /// commit writes nothing. Which condition failed is read from the statement's row. An existing checkpoint or artifact
    /// id, or two artifacts with one type and key, fail on the tables' constraints and roll the statement back. The
    /// version is read from the statement's snapshot, taken before the lock was granted: when a concurrent commit on the
    /// branch and phase took that version meanwhile, the unique constraint on versions refuses this one and it runs again
    /// (the concurrent commit is then visible). When the connection was lost while an attempt ran, the next attempt first
    /// looks for the checkpoint that attempt may have committed and returns it instead of committing it twice.
    /// </remarks>
    public Task<Checkpoint> CommitCheckpointAsync(NewCheckpoint checkpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        checkpoint.CheckArtifacts();
        var artifacts = checkpoint.Artifacts;
        var ids = new Guid[artifacts.Count];
        var types = new string[artifacts.Count];
        var keys = new string[artifacts.Count];
        var contents = new string[artifacts.Count];
        var metadata = new string[artifacts.Count];
        var units = new int?[artifacts.Count];
        var blobs = new string?[artifacts.Count];
        for (var i = 0; i < artifacts.Count; i++)
        {
            var a = artifacts[i];
            (ids[i], types[i], keys[i], units[i], blobs[i]) = (a.Id, a.Type, a.Key, a.UnitIndex, a.Content.Blob?.Hash);
            contents[i] = JsonSerializer.Serialize(a.Content, JsonOptions);
            metadata[i] = JsonSerializer.Serialize(a.Metadata, JsonOptions);
        }

        return InOneTripAsync("CommitCheckpoint", async (db, outcomeUnknown) =>
        {
            if (outcomeUnknown && await FindCheckpointAsync(db, checkpoint.Id, forUpdate: false).ConfigureAwait(false) is { } committed
                && committed.RunId == checkpoint.RunId && committed.Branch == checkpoint.Branch && committed.Phase == checkpoint.Phase)
            {
                return committed; // the attempt whose connection was lost had committed it
            }

            while (true)
            {
                try
                {
                    return await CommitOnceAsync(db, checkpoint, ids, types, keys, contents, metadata, units, blobs).ConfigureAwait(false);
                }
                catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation && e.ConstraintName == "uq_checkpoints_version")
                {
                    // A concurrent commit on the branch and phase took the version while this one waited for the run's
                    // row: it committed, so the next attempt sees its version and takes the one after.
                    _logger.CommitVersionTaken(checkpoint.RunId, checkpoint.Branch, checkpoint.Phase);
                }
            }
        }, cancellationToken);
    }

    private async Task<Checkpoint> CommitOnceAsync(
        Db db, NewCheckpoint checkpoint, Guid[] ids, string[] types, string[] keys, string[] contents, string[] metadata, int?[] units, string?[] blobs)
    {
        await using var command = Command(db, $"""
            WITH run AS (
                SELECT r.lease_token, r.lease_owner, EXISTS (SELECT 1 FROM {_s}.branches b WHERE b.run_id = r.id AND b.name = @branch) AS branch_exists
                FROM {_s}.runs r WHERE r.id = @run
                FOR UPDATE OF r
            ),
            saved AS (
                INSERT INTO {_s}.checkpoints ({CheckpointColumns})
                SELECT {NewCheckpointValues}
                FROM run, (SELECT COALESCE(MAX(version), 0) + 1 AS version FROM {_s}.checkpoints
                           WHERE run_id = @run AND branch = @branch AND phase = @phase) v
                WHERE run.branch_exists AND (@token::bigint IS NULL OR run.lease_token = @token::bigint)
                RETURNING version
            ),
            incoming AS (
                SELECT * FROM unnest(@ids::uuid[], @types::text[], @keys::text[], @contents::jsonb[], @metadata::jsonb[], @units::integer[], @blobs::text[])
                    AS a (id, type, key, content, metadata, unit_index, blob_hash)
            ),
            inserted AS (
                INSERT INTO {_s}.artifacts ({ArtifactColumns})
                SELECT {NewArtifactValues} FROM incoming a WHERE EXISTS (SELECT 1 FROM saved)
                RETURNING id
            ),
            first_versions AS (
                INSERT INTO {_s}.artifact_versions ({VersionColumns}, blob_hash)
                SELECT {FirstVersionValues} FROM inserted JOIN incoming a ON a.id = inserted.id
            ){(checkpoint.RunCostDelta == 0m ? "" : $"""
            ,
            run_cost AS (
                UPDATE {_s}.runs SET cost = cost + @delta WHERE id = @run AND EXISTS (SELECT 1 FROM saved)
            )
            """)}{(checkpoint.ExecutionKey is null ? "" : $"""
            ,
            cleared_units AS (
                DELETE FROM {_s}.journal_units WHERE run_id = @run AND execution_key = @execution AND EXISTS (SELECT 1 FROM saved)
            ),
            cleared_jobs AS (
                DELETE FROM {_s}.journal_jobs WHERE run_id = @run AND execution_key = @execution AND EXISTS (SELECT 1 FROM saved)
            )
            """)}
            SELECT run.lease_token, run.lease_owner, run.branch_exists, (SELECT version FROM saved) FROM run;
            """,
            ("id", checkpoint.Id), ("run", checkpoint.RunId), ("branch", checkpoint.Branch), ("phase", checkpoint.Phase),
            ("parent", checkpoint.ParentId), ("status", CheckpointStatus.Pending), ("created", checkpoint.CreatedAt),
            ("output", ToJsonb(checkpoint.Output)), ("cost", checkpoint.Cost), ("by", checkpoint.CreatedBy),
            ("description", checkpoint.EditDescription), ("parent_revision", checkpoint.ToCheckpoint(0).ParentRevision), ("token", checkpoint.FencingToken),
            ("ids", ids), ("types", types), ("keys", keys), ("contents", new JsonbArray(contents)), ("metadata", new JsonbArray(metadata)),
            ("units", units), ("blobs", blobs), ("delta", checkpoint.RunCostDelta), ("execution", checkpoint.ExecutionKey));
        LockedRun? run = null;
        var branchExists = false;
        int? version = null;
        await using (var reader = await command.ExecuteReaderAsync(db.Token).ConfigureAwait(false))
        {
            if (await reader.ReadAsync(db.Token).ConfigureAwait(false))
            {
                run = new LockedRun(reader.GetInt64(0), NullableString(reader, 1));
                branchExists = reader.GetBoolean(2);
                version = Nullable<int>(reader, 3);
            }
        }

        // The checks of the in-memory store, in its order: nothing was written unless all pass.
        CheckFence(checkpoint.RunId, checkpoint.FencingToken, run);
        if (!branchExists)
        {
            throw new InvalidStateException($"Run '{checkpoint.RunId}' has no branch '{checkpoint.Branch}'.");
        }

        return checkpoint.ToCheckpoint(
            version ?? throw new InvalidOperationException($"CommitCheckpoint of '{checkpoint.Id}' passed every check but saved no row."));
    }

    /// <inheritdoc />
    public Task<Checkpoint?> GetCheckpointAsync(Guid checkpointId, CancellationToken cancellationToken = default) =>
        InTransactionAsync("GetCheckpoint", db => FindCheckpointAsync(db, checkpointId, forUpdate: false), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<Checkpoint>> ListCheckpointsAsync(Guid runId, string? branch = null, CancellationToken cancellationToken = default) =>
        InTransactionAsync<IReadOnlyList<Checkpoint>>("ListCheckpoints", async db => await QueryAsync(db, MapCheckpoint, $"""
            SELECT {CheckpointColumns} FROM {_s}.checkpoints
            WHERE run_id = @run AND (@branch::text IS NULL OR branch = @branch::text)
            ORDER BY seq;
            """, ("run", runId), ("branch", branch)).ConfigureAwait(false), cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// One batch, one round trip, outside an explicit transaction: each statement sees what was committed when it began,
    /// so the run is read first, then its checkpoints, then its branches (everything read earlier refers only to rows
    /// committed before the later statements).
    /// </remarks>
    public Task<RunContents?> GetRunContentsAsync(Guid runId, CancellationToken cancellationToken = default) =>
        InOneTripAsync("GetRunContents", async db =>
        {
            var batch = new NpgsqlBatch(db.Connection, db.Transaction)
            {
                BatchCommands =
                {
                    BatchCommand($"SELECT {RunColumns} FROM {_s}.runs WHERE id = @run;", ("run", runId)),
                    BatchCommand($"SELECT {RunCheckpointColumns} FROM {_s}.checkpoints WHERE run_id = @run;", ("run", runId)),
                    BatchCommand($"SELECT {BranchColumns} FROM {_s}.branches WHERE run_id = @run ORDER BY seq;", ("run", runId)),
                },
            };
            await using (batch.ConfigureAwait(false))
            {
                var reader = await batch.ExecuteReaderAsync(db.Token).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    if (!await reader.ReadAsync(db.Token).ConfigureAwait(false))
                    {
                        return null;
                    }

                    var run = MapRun(reader);
                    await reader.NextResultAsync(db.Token).ConfigureAwait(false);
                    var checkpoints = await ReadRunCheckpointsAsync(reader, runId, db.Token).ConfigureAwait(false);
                    await reader.NextResultAsync(db.Token).ConfigureAwait(false);
                    var branches = await ReadAllAsync(reader, MapBranch, db.Token).ConfigureAwait(false);
                    return new RunContents { Run = run, Checkpoints = checkpoints, Branches = branches };
                }
            }
        }, cancellationToken);

    /// <inheritdoc />
    /// <remarks>One batch, one round trip: the run, then its newest checkpoint of the status.</remarks>
    public Task<RunLatestCheckpoint?> GetLatestCheckpointAsync(Guid runId, CheckpointStatus status, CancellationToken cancellationToken = default) =>
        InOneTripAsync("GetLatestCheckpoint", async db =>
        {
            var batch = new NpgsqlBatch(db.Connection, db.Transaction)
            {
                BatchCommands =
                {
                    BatchCommand($"SELECT {RunColumns} FROM {_s}.runs WHERE id = @run;", ("run", runId)),
                    BatchCommand($"SELECT {CheckpointColumns} FROM {_s}.checkpoints WHERE run_id = @run AND status = @status ORDER BY seq DESC LIMIT 1;",
                        ("run", runId), ("status", status)),
                },
            };
            await using (batch.ConfigureAwait(false))
            {
                var reader = await batch.ExecuteReaderAsync(db.Token).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    if (!await reader.ReadAsync(db.Token).ConfigureAwait(false))
                    {
                        return null;
                    }

                    var run = MapRun(reader);
                    await reader.NextResultAsync(db.Token).ConfigureAwait(false);
                    var latest = await reader.ReadAsync(db.Token).ConfigureAwait(false) ? MapCheckpoint(reader) : null;
                    return new RunLatestCheckpoint { Run = run, Checkpoint = latest };
                }
            }
        }, cancellationToken);

    /// <inheritdoc />
    public Task<Checkpoint> SetCheckpointStatusAsync(Guid checkpointId, CheckpointStatus status, DateTimeOffset at, CancellationToken cancellationToken = default) =>
        InTransactionAsync("SetCheckpointStatus", async db =>
        {
            var updated = await QueryAsync(db, MapCheckpoint, $"""
                UPDATE {_s}.checkpoints
                SET status = @status,
                    approved_at = CASE WHEN @status = 'Approved' THEN COALESCE(approved_at, @at) ELSE approved_at END
                WHERE id = @id
                RETURNING {CheckpointColumns};
                """, ("id", checkpointId), ("status", status), ("at", at)).ConfigureAwait(false);
            return updated.Count == 1 ? updated[0] : throw new CheckpointNotFoundException(checkpointId);
        }, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<Artifact>> GetArtifactsAsync(Guid checkpointId, CancellationToken cancellationToken = default) =>
        InTransactionAsync<IReadOnlyList<Artifact>>("GetArtifacts", async db => await QueryAsync(db, MapArtifact, $"""
            SELECT {ArtifactColumns} FROM {_s}.artifacts
            WHERE checkpoint_id = @checkpoint
            ORDER BY type COLLATE "C", COALESCE(unit_index, 0), key COLLATE "C";
            """, ("checkpoint", checkpointId)).ConfigureAwait(false), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<Artifact>> GetArtifactsAsync(Guid checkpointId, long revision, CancellationToken cancellationToken = default) =>
        InTransactionAsync<IReadOnlyList<Artifact>>("GetArtifactsAtRevision", async db => await QueryAsync(db, MapArtifact, $"""
            SELECT a.id, a.checkpoint_id, a.type, a.key, v.version, v.content, v.metadata, a.unit_index, v.created_at, v.created_by, v.reason
            FROM {_s}.artifacts AS a
            CROSS JOIN LATERAL (
                SELECT version, content, metadata, created_at, created_by, reason FROM {_s}.artifact_versions
                WHERE artifact_id = a.id AND revision <= @revision
                ORDER BY version DESC
                LIMIT 1) AS v
            WHERE a.checkpoint_id = @checkpoint
            ORDER BY a.type COLLATE "C", COALESCE(a.unit_index, 0), a.key COLLATE "C";
            """, ("checkpoint", checkpointId), ("revision", revision)).ConfigureAwait(false), cancellationToken);

    /// <inheritdoc />
    public Task<Artifact?> GetArtifactAsync(Guid checkpointId, string type, string key, CancellationToken cancellationToken = default) =>
        InTransactionAsync("GetArtifact", db => FindArtifactAsync(db, checkpointId, type, key, forUpdate: false), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<ArtifactVersion>> GetArtifactHistoryAsync(Guid artifactId, CancellationToken cancellationToken = default) =>
        InTransactionAsync<IReadOnlyList<ArtifactVersion>>("GetArtifactHistory", async db => await QueryAsync(db, MapVersion,
            $"SELECT {VersionColumns} FROM {_s}.artifact_versions WHERE artifact_id = @id ORDER BY version;", ("id", artifactId)).ConfigureAwait(false),
            cancellationToken);

    /// <inheritdoc />
    public Task<ArtifactVersion?> GetArtifactVersionAsync(Guid artifactId, int version, CancellationToken cancellationToken = default) =>
        InTransactionAsync("GetArtifactVersion", db => QuerySingleAsync(db, MapVersion,
            $"SELECT {VersionColumns} FROM {_s}.artifact_versions WHERE artifact_id = @id AND version = @version;", ("id", artifactId), ("version", version)),
            cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// Two statements in one transaction (three round trips with its commit). The first locks the checkpoint's row, which
    /// every update of its artifacts takes first, and reads the artifact with it; the update is applied to what it read
    /// (<see cref="ArtifactUpdate.ApplyTo"/>). The second writes the artifact's next version, its history row, the
    /// checkpoint's cost and output and the run's cost, only while the artifact is still at the version that was read, and
    /// returns the version it found otherwise. Lock order everywhere: checkpoint, then artifact, then run.
    /// </remarks>
    public Task<Artifact> UpdateArtifactAsync(ArtifactUpdate update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        return InTransactionAsync("UpdateArtifact", async db =>
        {
            Checkpoint checkpoint;
            Artifact? artifact;
            await using (var command = Command(db, $"""
                SELECT c.*, a.*
                FROM (SELECT {CheckpointColumns} FROM {_s}.checkpoints WHERE id = @checkpoint FOR UPDATE) c
                LEFT JOIN LATERAL (SELECT {ArtifactColumns} FROM {_s}.artifacts WHERE checkpoint_id = c.id AND type = @type AND key = @key) a ON true;
                """, ("checkpoint", update.CheckpointId), ("type", update.Type), ("key", update.Key)))
            {
                await using var reader = await command.ExecuteReaderAsync(db.Token).ConfigureAwait(false);
                if (!await reader.ReadAsync(db.Token).ConfigureAwait(false))
                {
                    throw new CheckpointNotFoundException(update.CheckpointId);
                }

                checkpoint = MapCheckpoint(reader);
                artifact = reader.IsDBNull(CheckpointColumnCount) ? null : MapArtifact(reader, CheckpointColumnCount);
            }

            var runId = checkpoint.RunId;
            var (updated, history) = update.ApplyTo(checkpoint, artifact);
            await using (var command = Command(db, $"""
                WITH updated AS (
                    UPDATE {_s}.artifacts SET version = @version, content = @content, metadata = @metadata,
                        updated_at = @at, updated_by = @by, reason = @reason
                    WHERE id = @id AND version = @parent
                    RETURNING id
                ),
                history AS (
                    INSERT INTO {_s}.artifact_versions ({VersionColumns}, blob_hash)
                    SELECT {VersionValues} FROM updated
                ),
                checkpoint_cost AS (
                    UPDATE {_s}.checkpoints SET cost = cost + @delta, output = COALESCE(@output, output), revision = @revision
                    WHERE id = @checkpoint AND EXISTS (SELECT 1 FROM updated)
                ),
                run_cost AS (
                    UPDATE {_s}.runs SET cost = cost + @delta WHERE id = @run AND @delta <> 0 AND EXISTS (SELECT 1 FROM updated)
                )
                SELECT EXISTS (SELECT 1 FROM updated), (SELECT version FROM {_s}.artifacts WHERE id = @id);
                """,
                [
                    .. VersionParameters(history, ToJsonb(update.Content), ToJsonb(update.Metadata)),
                    ("checkpoint", update.CheckpointId), ("run", runId), ("delta", update.CostDelta), ("output", ToJsonb(update.NewCheckpointOutput)),
                ]))
            {
                await using var reader = await command.ExecuteReaderAsync(db.Token).ConfigureAwait(false);
                await reader.ReadAsync(db.Token).ConfigureAwait(false);
                if (!reader.GetBoolean(0))
                {
                    throw ConcurrencyConflictException.ForArtifact(update.CheckpointId, update.Type, update.Key, update.ExpectedVersion, reader.GetInt32(1));
                }
            }

            return updated;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<Continuation> ContinueAsync(ContinuationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return InTransactionAsync("Continue", async db =>
        {
            // Every continuation of the checkpoint waits for its row lock, so only the first records (and forks).
            var checkpoint = await FindCheckpointAsync(db, request.CheckpointId, forUpdate: true).ConfigureAwait(false)
                ?? throw new CheckpointNotFoundException(request.CheckpointId);
            var existing = await QuerySingleAsync(db, MapContinuation,
                $"SELECT {ContinuationColumns} FROM {_s}.continuations WHERE checkpoint_id = @id AND revision = @revision;",
                ("id", request.CheckpointId), ("revision", request.Revision)).ConfigureAwait(false);

            // Lock order: checkpoint, then run (locked only for a new record). The rules (and the fence) are checked
            // before anything is written.
            var run = existing is null ? await LockRunAsync(db, checkpoint.RunId).ConfigureAwait(false) : null;
            var plan = ContinuationRules.Decide(request, checkpoint, existing, run);
            if (plan.Record.Existing)
            {
                return plan.Record;
            }

            var continuation = plan.CreateBranch
                ? plan.Record with { Branch = (await CreateBranchAsync(db, checkpoint.RunId, checkpoint.Branch, checkpoint.Id, request.At).ConfigureAwait(false)).Name }
                : plan.Record;
            if (plan.Approve)
            {
                await ExecuteAsync(db, $"UPDATE {_s}.checkpoints SET status = @status, approved_at = COALESCE(approved_at, @at) WHERE id = @id;",
                    ("id", checkpoint.Id), ("status", CheckpointStatus.Approved), ("at", request.At)).ConfigureAwait(false);
            }

            await ExecuteAsync(db, $"""
                INSERT INTO {_s}.continuations ({ContinuationColumns})
                VALUES (@id, @revision, @branch, @created, @at, @by, @description);
                """,
                ("id", continuation.CheckpointId), ("revision", continuation.Revision), ("branch", continuation.Branch),
                ("created", continuation.BranchCreated), ("at", continuation.CreatedAt),
                ("by", continuation.RequestedBy), ("description", continuation.Description)).ConfigureAwait(false);

            var changed = ContinuationRules.NextRun(request, checkpoint, plan.Run!, continuation.Branch);
            await ExecuteAsync(db, $"""
                UPDATE {_s}.runs SET status = @status, current_phase = @phase, current_branch = @branch,
                    parent_checkpoint_id = @parent, error = @error, updated_at = @at,
                    lease_owner = @lease_owner, lease_expires_at = @lease_expires, lease_token = @lease_token
                WHERE id = @id;
                """,
                ("id", changed.Id), ("status", changed.Status), ("phase", changed.CurrentPhase), ("branch", changed.CurrentBranch),
                ("parent", changed.ParentCheckpointId), ("error", changed.Error), ("at", changed.UpdatedAt),
                ("lease_owner", changed.LeaseOwner), ("lease_expires", changed.LeaseExpiresAt), ("lease_token", changed.LeaseToken)).ConfigureAwait(false);
            await NotifyIfClaimableAsync(db, changed).ConfigureAwait(false);
            return continuation;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task SaveJobAsync(Guid runId, string executionKey, string slot, string externalJobId, long? fencingToken = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(executionKey);
        ArgumentNullException.ThrowIfNull(slot);
        ArgumentNullException.ThrowIfNull(externalJobId);
        if (fencingToken is null)
        {
            return InTransactionAsync("SaveJob", db => ExecuteAsync(db, $"""
                INSERT INTO {_s}.journal_jobs (run_id, execution_key, slot, external_job_id) VALUES (@run, @execution, @slot, @job)
                ON CONFLICT (run_id, execution_key, slot) DO UPDATE SET external_job_id = excluded.external_job_id;
                """, ("run", runId), ("execution", executionKey), ("slot", slot), ("job", externalJobId)), cancellationToken);
        }

        return InTransactionAsync("SaveJob", async db =>
        {
            // One statement: the row comes from the run only while its token is the writer's, under a FOR SHARE lock
            // (re-checked against a concurrent claim that committed meanwhile). A claim waits for this transaction, and
            // concurrent job saves of one executor do not wait for each other.
            var written = await ExecuteAsync(db, $"""
                INSERT INTO {_s}.journal_jobs (run_id, execution_key, slot, external_job_id)
                SELECT id, @execution, @slot, @job FROM {_s}.runs WHERE id = @run AND lease_token = @token FOR SHARE
                ON CONFLICT (run_id, execution_key, slot) DO UPDATE SET external_job_id = excluded.external_job_id;
                """, ("run", runId), ("execution", executionKey), ("slot", slot), ("job", externalJobId), ("token", fencingToken)).ConfigureAwait(false);
            if (written == 0)
            {
                throw await FenceFailureAsync(db, runId, fencingToken).ConfigureAwait(false);
            }

            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<string?> GetJobAsync(Guid runId, string executionKey, string slot, CancellationToken cancellationToken = default) =>
        InTransactionAsync("GetJob", async db => (string?)await ScalarAsync(db,
            $"SELECT external_job_id FROM {_s}.journal_jobs WHERE run_id = @run AND execution_key = @execution AND slot = @slot;",
            ("run", runId), ("execution", executionKey), ("slot", slot)).ConfigureAwait(false), cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// One batch, one round trip: the first statement locks the run's row and reads its token, the second (its snapshot
    /// taken under that lock, so it sees the unit as the last save left it) replaces the unit and adds the cost difference
    /// to the run only while the token is the writer's. Saving the same unit again adds nothing, so a retry after a lost
    /// connection is harmless.
    /// </remarks>
    public Task SaveUnitAsync(Guid runId, string executionKey, CompletedUnit unit, long? fencingToken = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(executionKey);
        ArgumentNullException.ThrowIfNull(unit);
        return InOneTripAsync("SaveUnit", async (db, _) =>
        {
            var batch = new NpgsqlBatch(db.Connection);
            await using (batch.ConfigureAwait(false))
            {
                batch.BatchCommands.Add(LockRunCommand(runId));
                batch.BatchCommands.Add(BatchCommand($"""
                    WITH fence AS (
                        SELECT 1 FROM {_s}.runs WHERE id = @run AND (@token::bigint IS NULL OR lease_token = @token::bigint)
                    ),
                    previous AS (
                        SELECT cost FROM {_s}.journal_units WHERE run_id = @run AND execution_key = @execution AND unit_index = @unit
                    ),
                    saved AS (
                        INSERT INTO {_s}.journal_units (run_id, execution_key, unit_index, artifact, blob_hash, cost)
                        SELECT @run, @execution, @unit, @artifact, @blob::text, @cost FROM fence
                        ON CONFLICT (run_id, execution_key, unit_index) DO UPDATE
                        SET artifact = excluded.artifact, blob_hash = excluded.blob_hash, cost = excluded.cost
                        RETURNING 1
                    )
                    UPDATE {_s}.runs SET cost = cost + @cost - COALESCE((SELECT cost FROM previous), 0)
                    WHERE id = @run AND EXISTS (SELECT 1 FROM saved) AND @cost <> COALESCE((SELECT cost FROM previous), 0);
                    """,
                    ("run", runId), ("execution", executionKey), ("unit", unit.UnitIndex), ("artifact", ToJsonb(unit.Artifact)),
                    ("blob", unit.Artifact.Content.Blob?.Hash), ("cost", unit.Cost), ("token", fencingToken)));
                CheckFence(runId, fencingToken, await ExecuteFencedAsync(batch, db.Token).ConfigureAwait(false));
                return true;
            }
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<CompletedUnit>> GetUnitsAsync(Guid runId, string executionKey, CancellationToken cancellationToken = default) =>
        InTransactionAsync<IReadOnlyList<CompletedUnit>>("GetUnits", async db => await QueryAsync(db,
            r => new CompletedUnit(r.GetInt32(0), FromJson<NewArtifact>(r.GetString(1)), r.GetDecimal(2)),
            $"SELECT unit_index, artifact, cost FROM {_s}.journal_units WHERE run_id = @run AND execution_key = @execution ORDER BY unit_index;",
            ("run", runId), ("execution", executionKey)).ConfigureAwait(false), cancellationToken);

    /// <inheritdoc />
    public Task ClearJournalAsync(Guid runId, string executionKey, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(executionKey);
        return InTransactionAsync("ClearJournal", async db =>
        {
            await ClearJournalAsync(db, runId, executionKey).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<string> ListReferencedBlobsAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var hashes = await InTransactionAsync("ListReferencedBlobs", db => QueryAsync(db, r => r.GetString(0), $"""
            SELECT blob_hash FROM {_s}.artifact_versions WHERE blob_hash IS NOT NULL
            UNION
            SELECT blob_hash FROM {_s}.journal_units WHERE blob_hash IS NOT NULL;
            """), cancellationToken).ConfigureAwait(false);
        await foreach (var hash in Yield(hashes, cancellationToken).ConfigureAwait(false))
        {
            yield return hash;
        }
    }

    private async Task ClearJournalAsync(Db db, Guid runId, string executionKey)
    {
        await ExecuteAsync(db, $"DELETE FROM {_s}.journal_units WHERE run_id = @run AND execution_key = @execution;", ("run", runId), ("execution", executionKey)).ConfigureAwait(false);
        await ExecuteAsync(db, $"DELETE FROM {_s}.journal_jobs WHERE run_id = @run AND execution_key = @execution;", ("run", runId), ("execution", executionKey)).ConfigureAwait(false);
    }

    private static (string, object?)[] VersionParameters(ArtifactVersion version, object content, object metadata) =>
    [
        ("id", version.ArtifactId), ("version", version.Version), ("parent", version.ParentVersion), ("content", content),
        ("metadata", metadata), ("at", version.CreatedAt), ("by", version.CreatedBy), ("reason", version.Reason),
        ("revision", version.Revision), ("blob", version.Content.Blob?.Hash),
    ];

    private Task<Run?> FindRunAsync(Db db, Guid runId) =>
        QuerySingleAsync(db, MapRun, $"SELECT {RunColumns} FROM {_s}.runs WHERE id = @id;", ("id", runId));

    private Task<Checkpoint?> FindCheckpointAsync(Db db, Guid checkpointId, bool forUpdate) =>
        QuerySingleAsync(db, MapCheckpoint,
            $"SELECT {CheckpointColumns} FROM {_s}.checkpoints WHERE id = @id{(forUpdate ? " FOR UPDATE" : "")};", ("id", checkpointId));

    private Task<Artifact?> FindArtifactAsync(Db db, Guid checkpointId, string type, string key, bool forUpdate) =>
        QuerySingleAsync(db, MapArtifact,
            $"SELECT {ArtifactColumns} FROM {_s}.artifacts WHERE checkpoint_id = @checkpoint AND type = @type AND key = @key{(forUpdate ? " FOR UPDATE" : "")};",
            ("checkpoint", checkpointId), ("type", type), ("key", key));

    private static T? Nullable<T>(NpgsqlDataReader r, int ordinal)
        where T : struct => r.IsDBNull(ordinal) ? null : r.GetFieldValue<T>(ordinal);

    private static string? NullableString(NpgsqlDataReader r, int ordinal) => r.IsDBNull(ordinal) ? null : r.GetString(ordinal);

    private static DateTimeOffset Time(NpgsqlDataReader r, int ordinal) => r.GetFieldValue<DateTimeOffset>(ordinal);

    private static Run MapRun(NpgsqlDataReader r) => new()
    {
        Id = r.GetGuid(0),
        Pipeline = r.GetString(1),
        OwnerId = r.GetString(2),
        Input = Element(r.GetString(3)),
        AutoContinue = r.GetBoolean(4),
        Status = Enum.Parse<RunStatus>(r.GetString(5)),
        CurrentPhase = Nullable<int>(r, 6),
        CurrentBranch = NullableString(r, 7),
        ParentCheckpointId = Nullable<Guid>(r, 8),
        Error = NullableString(r, 9),
        Cost = r.GetDecimal(10),
        Budget = Nullable<decimal>(r, 11),
        CreatedAt = Time(r, 12),
        UpdatedAt = Time(r, 13),
        LeaseOwner = NullableString(r, 14),
        LeaseExpiresAt = Nullable<DateTimeOffset>(r, 15),
        LeaseToken = r.GetInt64(16),
    };

    private static Continuation MapContinuation(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetInt64(1), r.GetString(2), r.GetBoolean(3), Time(r, 4), Existing: false)
    {
        RequestedBy = NullableString(r, 5),
        Description = NullableString(r, 6),
    };

    private static Branch MapBranch(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetString(1), NullableString(r, 2), Nullable<Guid>(r, 3), Time(r, 4));

    private static Checkpoint MapCheckpoint(NpgsqlDataReader r) => new()
    {
        Id = r.GetGuid(0),
        RunId = r.GetGuid(1),
        Branch = r.GetString(2),
        Phase = r.GetInt32(3),
        Version = r.GetInt32(4),
        ParentId = Nullable<Guid>(r, 5),
        Status = Enum.Parse<CheckpointStatus>(r.GetString(6)),
        ApprovedAt = Nullable<DateTimeOffset>(r, 7),
        CreatedAt = Time(r, 8),
        Output = r.IsDBNull(9) ? null : Element(r.GetString(9)),
        Cost = r.GetDecimal(10),
        CreatedBy = NullableString(r, 11),
        EditDescription = NullableString(r, 12),
        ParentRevision = Nullable<long>(r, 13),
        Revision = r.GetInt64(14),
    };

    /// <summary>Maps an artifact row whose <see cref="ArtifactColumns"/> start at <paramref name="o"/>.</summary>
    private static Artifact MapArtifact(NpgsqlDataReader r, int o) => new()
    {
        Id = r.GetGuid(o),
        CheckpointId = r.GetGuid(o + 1),
        Type = r.GetString(o + 2),
        Key = r.GetString(o + 3),
        Version = r.GetInt32(o + 4),
        Content = FromJson<ArtifactContent>(r.GetString(o + 5)),
        Metadata = FromJson<ArtifactMetadata>(r.GetString(o + 6)),
        UnitIndex = Nullable<int>(r, o + 7),
        UpdatedAt = Time(r, o + 8),
        UpdatedBy = NullableString(r, o + 9),
        Reason = NullableString(r, o + 10),
    };

    private static Artifact MapArtifact(NpgsqlDataReader r) => MapArtifact(r, 0);

    private static ArtifactVersion MapVersion(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetInt32(1), Nullable<int>(r, 2), FromJson<ArtifactContent>(r.GetString(3)), FromJson<ArtifactMetadata>(r.GetString(4)),
        Time(r, 5), NullableString(r, 6), NullableString(r, 7))
    {
        Revision = r.GetInt64(8),
    };
}
