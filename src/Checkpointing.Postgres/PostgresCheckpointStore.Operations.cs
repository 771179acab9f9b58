using Npgsql;

namespace Checkpointing.Postgres;

public sealed partial class PostgresCheckpointStore
{
    private const string RunColumns =
        "id, pipeline, owner_id, input, auto_continue, status, current_phase, current_branch, parent_checkpoint_id, error, cost, budget, created_at, updated_at, " +
        "lease_owner, lease_expires_at, lease_token";

    private const string ContinuationColumns = "checkpoint_id, fingerprint, branch, branch_created, created_at, pins, requested_by, description";

    private const string BranchColumns = "run_id, name, parent_branch, forked_from, created_at";

    private const string CheckpointColumns =
        "id, run_id, branch, phase, version, parent_id, status, approved_at, created_at, output, cost, created_by, edit_description, consumed";

    private const string ArtifactColumns =
        "id, checkpoint_id, type, key, version, content, metadata, unit_index, updated_at, updated_by, reason";

    private const string VersionColumns =
        "artifact_id, version, parent_version, content, metadata, created_at, created_by, reason";

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
        var next = 1 + children.Select(name => BranchNames.ChildCounter(parentBranch, name)).DefaultIfEmpty(0).Max();
        var branch = new Branch(runId, BranchNames.Child(parentBranch, next), parentBranch, forkedFrom, at);
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

    /// <inheritdoc />
    public Task<Checkpoint> CommitCheckpointAsync(NewCheckpoint checkpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        return InTransactionAsync("CommitCheckpoint", async db =>
        {
            await LockRunAsync(db, checkpoint.RunId, checkpoint.FencingToken).ConfigureAwait(false);
            if (await ScalarAsync(db, $"SELECT 1 FROM {_s}.branches WHERE run_id = @run AND name = @name;",
                ("run", checkpoint.RunId), ("name", checkpoint.Branch)).ConfigureAwait(false) is null)
            {
                throw new InvalidStateException($"Run '{checkpoint.RunId}' has no branch '{checkpoint.Branch}'.");
            }

            // Allocated under the run's row lock, so concurrent commits on one branch and phase never share a version
            // (and the unique constraint on (run, branch, phase, version) would turn a slip into a conflict, not a duplicate).
            var version = 1 + ToInt(await ScalarAsync(db,
                $"SELECT COALESCE(MAX(version), 0) FROM {_s}.checkpoints WHERE run_id = @run AND branch = @branch AND phase = @phase;",
                ("run", checkpoint.RunId), ("branch", checkpoint.Branch), ("phase", checkpoint.Phase)).ConfigureAwait(false));
            var saved = new Checkpoint(
                checkpoint.Id, checkpoint.RunId, checkpoint.Branch, checkpoint.Phase, version, checkpoint.ParentId,
                CheckpointStatus.Pending, null, checkpoint.CreatedAt, checkpoint.Output?.Clone(), checkpoint.Cost,
                checkpoint.CreatedBy, checkpoint.EditDescription, checkpoint.Consumed.ToList());

            // An existing id, two artifacts with one type and key, or a reused artifact id fail on the table's
            // constraints (23505) and are mapped to InvalidStateException; the transaction leaves nothing behind.
            await ExecuteAsync(db, $"""
                INSERT INTO {_s}.checkpoints ({CheckpointColumns})
                VALUES (@id, @run, @branch, @phase, @version, @parent, @status, NULL, @created, @output, @cost, @by, @description, @consumed);
                """,
                ("id", saved.Id), ("run", saved.RunId), ("branch", saved.Branch), ("phase", saved.Phase), ("version", saved.Version),
                ("parent", saved.ParentId), ("status", saved.Status), ("created", saved.CreatedAt), ("output", ToJsonb(saved.Output)),
                ("cost", saved.Cost), ("by", saved.CreatedBy), ("description", saved.EditDescription), ("consumed", ToJsonb(saved.Consumed))).ConfigureAwait(false);

            if (checkpoint.Artifacts.Count > 0)
            {
                var batch = new NpgsqlBatch(db.Connection, db.Transaction);
                await using (batch.ConfigureAwait(false))
                {
                    foreach (var a in checkpoint.Artifacts)
                    {
                        var content = ToJsonb(a.Content);
                        var metadata = ToJsonb(a.Metadata);
                        var artifact = new NpgsqlBatchCommand($"""
                            INSERT INTO {_s}.artifacts ({ArtifactColumns})
                            VALUES (@id, @checkpoint, @type, @key, 1, @content, @metadata, @unit, @at, @by, NULL);
                            """);
                        foreach (var (name, value) in new (string, object?)[]
                        {
                            ("id", a.Id), ("checkpoint", saved.Id), ("type", a.Type), ("key", a.Key), ("content", content),
                            ("metadata", metadata), ("unit", a.UnitIndex), ("at", checkpoint.CreatedAt), ("by", checkpoint.CreatedBy),
                        })
                        {
                            artifact.Parameters.Add(Parameter(name, value));
                        }

                        batch.BatchCommands.Add(artifact);
                        batch.BatchCommands.Add(VersionCommand(
                            new ArtifactVersion(a.Id, 1, null, a.Content, a.Metadata, checkpoint.CreatedAt, checkpoint.CreatedBy, null), content, metadata));
                    }

                    await batch.ExecuteNonQueryAsync(db.Token).ConfigureAwait(false);
                }
            }

            await AddRunCostAsync(db, checkpoint.RunId, checkpoint.RunCostDelta).ConfigureAwait(false);
            if (checkpoint.ExecutionKey is not null)
            {
                await ClearJournalAsync(db, checkpoint.RunId, checkpoint.ExecutionKey).ConfigureAwait(false);
            }

            return saved;
        }, cancellationToken);
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
                    BatchCommand($"SELECT {CheckpointColumns} FROM {_s}.checkpoints WHERE run_id = @run ORDER BY seq;", ("run", runId)),
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
                    var checkpoints = await ReadAllAsync(reader, MapCheckpoint, db.Token).ConfigureAwait(false);
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
    public Task<Artifact> UpdateArtifactAsync(ArtifactUpdate update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        return InTransactionAsync("UpdateArtifact", async db =>
        {
            // Lock order everywhere: checkpoint, then artifact, then run.
            var checkpoint = await FindCheckpointAsync(db, update.CheckpointId, forUpdate: true).ConfigureAwait(false)
                ?? throw new CheckpointNotFoundException(update.CheckpointId);
            if (checkpoint.Status == CheckpointStatus.Abandoned)
            {
                throw new CheckpointAbandonedException(checkpoint.Id);
            }

            var artifact = await FindArtifactAsync(db, update.CheckpointId, update.Type, update.Key, forUpdate: true).ConfigureAwait(false)
                ?? throw new ArtifactNotFoundException(update.CheckpointId, update.Type, update.Key);
            var (updated, history) = update.ApplyTo(artifact);
            var content = ToJsonb(update.Content);
            var metadata = ToJsonb(update.Metadata);
            var changed = await ExecuteAsync(db, $"""
                UPDATE {_s}.artifacts SET version = @version, content = @content, metadata = @metadata,
                    updated_at = @at, updated_by = @by, reason = @reason
                WHERE id = @id AND version = @expected;
                """,
                ("id", artifact.Id), ("version", updated.Version), ("expected", artifact.Version), ("content", content),
                ("metadata", metadata), ("at", update.At), ("by", update.UpdatedBy), ("reason", update.Reason)).ConfigureAwait(false);
            if (changed != 1)
            {
                throw ConcurrencyConflictException.ForArtifact(update.CheckpointId, update.Type, update.Key, update.ExpectedVersion, artifact.Version);
            }

            await using (var insert = VersionCommandFor(db, history, content, metadata))
            {
                await insert.ExecuteNonQueryAsync(db.Token).ConfigureAwait(false);
            }

            await ExecuteAsync(db, $"UPDATE {_s}.checkpoints SET cost = cost + @delta, output = COALESCE(@output, output) WHERE id = @id;",
                ("id", checkpoint.Id), ("delta", update.CostDelta), ("output", ToJsonb(update.NewCheckpointOutput))).ConfigureAwait(false);
            await AddRunCostAsync(db, checkpoint.RunId, update.CostDelta).ConfigureAwait(false);
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
                $"SELECT {ContinuationColumns} FROM {_s}.continuations WHERE checkpoint_id = @id AND fingerprint = @fingerprint;",
                ("id", request.CheckpointId), ("fingerprint", request.Fingerprint)).ConfigureAwait(false);
            if (existing is not null)
            {
                return existing with { Existing = true };
            }

            if (checkpoint.Status == CheckpointStatus.Abandoned)
            {
                throw new CheckpointAbandonedException(checkpoint.Id);
            }

            // Lock order: checkpoint, then run. The fence is checked before anything is written.
            var run = await LockRunAsync(db, checkpoint.RunId, request.FencingToken).ConfigureAwait(false);
            var branch = request.Fork
                ? (await CreateBranchAsync(db, checkpoint.RunId, checkpoint.Branch, checkpoint.Id, request.At).ConfigureAwait(false)).Name
                : checkpoint.Branch;
            if (checkpoint.Status == CheckpointStatus.Pending)
            {
                await ExecuteAsync(db, $"UPDATE {_s}.checkpoints SET status = @status, approved_at = COALESCE(approved_at, @at) WHERE id = @id;",
                    ("id", checkpoint.Id), ("status", CheckpointStatus.Approved), ("at", request.At)).ConfigureAwait(false);
            }

            var continuation = new Continuation(checkpoint.Id, request.Fingerprint, branch, request.Fork, request.At, Existing: false)
            {
                Pins = request.Pins.ToList(),
                RequestedBy = request.RequestedBy,
                Description = request.Description,
            };
            await ExecuteAsync(db, $"""
                INSERT INTO {_s}.continuations ({ContinuationColumns})
                VALUES (@id, @fingerprint, @branch, @created, @at, @pins, @by, @description);
                """,
                ("id", continuation.CheckpointId), ("fingerprint", continuation.Fingerprint), ("branch", continuation.Branch),
                ("created", continuation.BranchCreated), ("at", continuation.CreatedAt), ("pins", ToJsonb(continuation.Pins)),
                ("by", continuation.RequestedBy), ("description", continuation.Description)).ConfigureAwait(false);

            // As RunLease.Apply decides for a change under the run's current lease: a fenced continuation keeps the
            // lease (or releases it when queued); an unfenced one leaves the lease as it is.
            var state = new RunState(request.Queue ? RunStatus.Queued : RunStatus.Running, checkpoint.Phase + 1, branch, checkpoint.Id)
            {
                FencingToken = request.FencingToken ?? run.LeaseToken,
                ReleaseLease = request.Queue && request.FencingToken is not null,
            };
            var changed = RunLease.Apply(run, state, request.At);
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
    public Task SaveUnitAsync(Guid runId, string executionKey, CompletedUnit unit, long? fencingToken = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(executionKey);
        ArgumentNullException.ThrowIfNull(unit);
        return InTransactionAsync("SaveUnit", async db =>
        {
            await LockRunAsync(db, runId, fencingToken).ConfigureAwait(false);
            var previousCost = (decimal?)await ScalarAsync(db,
                $"SELECT cost FROM {_s}.journal_units WHERE run_id = @run AND execution_key = @execution AND unit_index = @unit;",
                ("run", runId), ("execution", executionKey), ("unit", unit.UnitIndex)).ConfigureAwait(false) ?? 0m;
            await ExecuteAsync(db, $"""
                INSERT INTO {_s}.journal_units (run_id, execution_key, unit_index, artifact, blob_hash, cost)
                VALUES (@run, @execution, @unit, @artifact, @blob, @cost)
                ON CONFLICT (run_id, execution_key, unit_index) DO UPDATE
                SET artifact = excluded.artifact, blob_hash = excluded.blob_hash, cost = excluded.cost;
                """,
                ("run", runId), ("execution", executionKey), ("unit", unit.UnitIndex), ("artifact", ToJsonb(unit.Artifact)),
                ("blob", unit.Artifact.Content.Blob?.Hash), ("cost", unit.Cost)).ConfigureAwait(false);
            await AddRunCostAsync(db, runId, unit.Cost - previousCost).ConfigureAwait(false);
            return true;
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

    private Task<int> AddRunCostAsync(Db db, Guid runId, decimal delta) =>
        delta == 0m
            ? Task.FromResult(0)
            : ExecuteAsync(db, $"UPDATE {_s}.runs SET cost = cost + @delta WHERE id = @id;", ("id", runId), ("delta", delta));

    private const string InsertVersionSql = "INSERT INTO {0}.artifact_versions ({1}, blob_hash) VALUES (@id, @version, @parent, @content, @metadata, @at, @by, @reason, @blob);";

    private NpgsqlBatchCommand VersionCommand(ArtifactVersion version, object content, object metadata)
    {
        var command = new NpgsqlBatchCommand(string.Format(System.Globalization.CultureInfo.InvariantCulture, InsertVersionSql, _s, VersionColumns));
        foreach (var (name, value) in VersionParameters(version, content, metadata))
        {
            command.Parameters.Add(Parameter(name, value));
        }

        return command;
    }

    private NpgsqlCommand VersionCommandFor(Db db, ArtifactVersion version, object content, object metadata) =>
        Command(db, string.Format(System.Globalization.CultureInfo.InvariantCulture, InsertVersionSql, _s, VersionColumns), VersionParameters(version, content, metadata));

    private static (string, object?)[] VersionParameters(ArtifactVersion version, object content, object metadata) =>
    [
        ("id", version.ArtifactId), ("version", version.Version), ("parent", version.ParentVersion), ("content", content),
        ("metadata", metadata), ("at", version.CreatedAt), ("by", version.CreatedBy), ("reason", version.Reason),
        ("blob", version.Content.Blob?.Hash),
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

    private static Run MapRun(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetString(1), r.GetString(2), Element(r.GetString(3)), r.GetBoolean(4), Enum.Parse<RunStatus>(r.GetString(5)),
        Nullable<int>(r, 6), NullableString(r, 7), Nullable<Guid>(r, 8), NullableString(r, 9), r.GetDecimal(10), Nullable<decimal>(r, 11),
        Time(r, 12), Time(r, 13))
    {
        LeaseOwner = NullableString(r, 14),
        LeaseExpiresAt = Nullable<DateTimeOffset>(r, 15),
        LeaseToken = r.GetInt64(16),
    };

    private static Continuation MapContinuation(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetBoolean(3), Time(r, 4), Existing: false)
    {
        Pins = FromJson<List<ArtifactPin>>(r.GetString(5)),
        RequestedBy = NullableString(r, 6),
        Description = NullableString(r, 7),
    };

    private static Branch MapBranch(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetString(1), NullableString(r, 2), Nullable<Guid>(r, 3), Time(r, 4));

    private static Checkpoint MapCheckpoint(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetGuid(1), r.GetString(2), r.GetInt32(3), r.GetInt32(4), Nullable<Guid>(r, 5), Enum.Parse<CheckpointStatus>(r.GetString(6)),
        Nullable<DateTimeOffset>(r, 7), Time(r, 8), r.IsDBNull(9) ? null : Element(r.GetString(9)), r.GetDecimal(10), NullableString(r, 11),
        NullableString(r, 12), FromJson<List<ArtifactPin>>(r.GetString(13)));

    private static Artifact MapArtifact(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetGuid(1), r.GetString(2), r.GetString(3), r.GetInt32(4), FromJson<ArtifactContent>(r.GetString(5)),
        FromJson<ArtifactMetadata>(r.GetString(6)), Nullable<int>(r, 7), Time(r, 8), NullableString(r, 9), NullableString(r, 10));

    private static ArtifactVersion MapVersion(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetInt32(1), Nullable<int>(r, 2), FromJson<ArtifactContent>(r.GetString(3)), FromJson<ArtifactMetadata>(r.GetString(4)),
        Time(r, 5), NullableString(r, 6), NullableString(r, 7));
}
