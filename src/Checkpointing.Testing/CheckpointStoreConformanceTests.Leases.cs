namespace Checkpointing.Conformance;

public abstract partial class CheckpointStoreConformanceTests
{
    private static readonly TimeSpan LeaseTime = TimeSpan.FromSeconds(30);

    /// <summary>A claim of a free run gets the next fencing token, the owner and the expiry; a second claim while it is held gets nothing.</summary>
    [Fact]
    public async Task Claim_takes_a_free_run_and_refuses_while_the_lease_is_held()
    {
        var run = await CreateRunAsync();

        var claimed = await Store.TryClaimRunAsync(run.Id, "worker-a", T0, T0 + LeaseTime, Ct);
        var again = await Store.TryClaimRunAsync(run.Id, "worker-b", T0.AddSeconds(10), T0.AddSeconds(10) + LeaseTime, Ct);
        var self = await Store.TryClaimRunAsync(run.Id, "worker-a", T0.AddSeconds(10), T0.AddSeconds(10) + LeaseTime, Ct);

        Assert.NotNull(claimed);
        Assert.Equal("worker-a", claimed.LeaseOwner);
        Assert.Equal(T0 + LeaseTime, claimed.LeaseExpiresAt);
        Assert.Equal(run.LeaseToken + 1, claimed.LeaseToken);
        Assert.Null(again);
        Assert.Null(self);
        var stored = (await Store.GetRunAsync(run.Id, Ct))!;
        Assert.Equal(("worker-a", claimed.LeaseToken), (stored.LeaseOwner, stored.LeaseToken));
        Assert.True(stored.IsLeaseHeld(T0.AddSeconds(29)));
    }

    /// <summary>An expired lease can be taken over, with a greater token; the old owner's renewal then fails.</summary>
    [Fact]
    public async Task Expired_lease_is_taken_over_and_the_old_owner_is_fenced_out()
    {
        var run = await CreateRunAsync();
        var first = (await Store.TryClaimRunAsync(run.Id, "worker-a", T0, T0 + LeaseTime, Ct))!;

        var late = T0 + LeaseTime + TimeSpan.FromSeconds(1);
        var second = await Store.TryClaimRunAsync(run.Id, "worker-b", late, late + LeaseTime, Ct);

        Assert.NotNull(second);
        Assert.True(second.LeaseToken > first.LeaseToken);
        var e = await Assert.ThrowsAsync<LeaseLostException>(() => Store.RenewLeaseAsync(run.Id, first.LeaseToken, late + LeaseTime, Ct));
        Assert.Equal(first.LeaseToken, e.Token);
        Assert.Equal(second.LeaseToken, e.CurrentToken);
        Assert.Equal("worker-b", (await Store.GetRunAsync(run.Id, Ct))!.LeaseOwner);
    }

    /// <summary>Renewing extends the lease so a later claim is refused; releasing lets the next claim in at once.</summary>
    [Fact]
    public async Task Renew_extends_and_release_frees_the_lease()
    {
        var run = await CreateRunAsync();
        var claimed = (await Store.TryClaimRunAsync(run.Id, "worker-a", T0, T0 + LeaseTime, Ct))!;

        await Store.RenewLeaseAsync(run.Id, claimed.LeaseToken, T0 + (2 * LeaseTime), Ct);
        Assert.Null(await Store.TryClaimRunAsync(run.Id, "worker-b", T0 + LeaseTime + TimeSpan.FromSeconds(1), T0 + (3 * LeaseTime), Ct));

        await Store.ReleaseLeaseAsync(run.Id, claimed.LeaseToken, T0.AddSeconds(40), Ct);
        var released = (await Store.GetRunAsync(run.Id, Ct))!;
        Assert.Null(released.LeaseOwner);
        Assert.Equal(T0.AddSeconds(40), released.LeaseExpiresAt);
        Assert.False(released.IsLeaseHeld(T0.AddSeconds(41)));
        await Assert.ThrowsAsync<LeaseLostException>(() => Store.RenewLeaseAsync(run.Id, claimed.LeaseToken, T0 + (3 * LeaseTime), Ct));
        var next = await Store.TryClaimRunAsync(run.Id, "worker-b", T0.AddSeconds(41), T0.AddSeconds(41) + LeaseTime, Ct);
        Assert.Equal(claimed.LeaseToken + 1, next?.LeaseToken);
    }

    /// <summary>A stale release changes nothing.</summary>
    [Fact]
    public async Task Stale_release_leaves_the_new_owners_lease()
    {
        var run = await CreateRunAsync();
        var first = (await Store.TryClaimRunAsync(run.Id, "worker-a", T0, T0 + LeaseTime, Ct))!;
        var late = T0 + LeaseTime + TimeSpan.FromSeconds(1);
        var second = (await Store.TryClaimRunAsync(run.Id, "worker-b", late, late + LeaseTime, Ct))!;
        var before = await SnapshotAsync(run.Id);

        await Store.ReleaseLeaseAsync(run.Id, first.LeaseToken, late.AddSeconds(1), Ct);

        Assert.Equal(before, await SnapshotAsync(run.Id));
        Assert.Equal(second.LeaseToken, (await Store.GetRunAsync(run.Id, Ct))!.LeaseToken);
    }

    /// <summary>A lease is created with the run when the run says so (an inline start holds its run from the first moment).</summary>
    [Fact]
    public async Task Run_created_with_a_lease_keeps_it()
    {
        var run = NewRun() with { LeaseOwner = "host-1", LeaseExpiresAt = T0 + LeaseTime, LeaseToken = 1 };
        await Store.CreateRunAsync(run, Ct);

        var stored = (await Store.GetRunAsync(run.Id, Ct))!;
        Assert.Equal(("host-1", T0 + LeaseTime, 1L), (stored.LeaseOwner, stored.LeaseExpiresAt, stored.LeaseToken));
        Assert.Null(await Store.TryClaimRunAsync(run.Id, "host-2", T0.AddSeconds(1), T0.AddSeconds(1) + LeaseTime, Ct));
        Assert.Null(await Store.ClaimNextRunAsync("host-2", T0.AddSeconds(1), T0.AddSeconds(1) + LeaseTime, Ct));
    }

    /// <summary>Every fenced write with a stale token is refused with <see cref="LeaseLostException"/> and leaves no trace.</summary>
    [Fact]
    public async Task Stale_fencing_token_is_refused_on_every_write_and_leaves_no_trace()
    {
        var (run, checkpoint) = await CreateRunWithCheckpointAsync();
        var first = (await Store.TryClaimRunAsync(run.Id, "worker-a", T0, T0 + LeaseTime, Ct))!;
        var late = T0 + LeaseTime + TimeSpan.FromSeconds(1);
        var second = (await Store.TryClaimRunAsync(run.Id, "worker-b", late, late + LeaseTime, Ct))!;
        var stale = first.LeaseToken;
        var before = await SnapshotAsync(run.Id, "exec");
        var checkpointsBefore = (await Store.ListCheckpointsAsync(run.Id, null, Ct)).Count;

        await Assert.ThrowsAsync<LeaseLostException>(() => Store.SaveJobAsync(run.Id, "exec", "unit-1/1", "job-stale", stale, Ct));
        await Assert.ThrowsAsync<LeaseLostException>(() => Store.SaveUnitAsync(run.Id, "exec", new CompletedUnit(1, JsonArtifact("chunk", "chunk_1", "{}", 1), 0.5m), stale, Ct));
        await Assert.ThrowsAsync<LeaseLostException>(() => Store.CommitCheckpointAsync(NewCheckpoint(run.Id, phase: 2, parentId: checkpoint.Id) with { FencingToken = stale }, Ct));
        await Assert.ThrowsAsync<LeaseLostException>(() => Store.UpdateRunStateAsync(run.Id, new RunState(RunStatus.Paused, 1, "main", null) { FencingToken = stale }, late, Ct));
        await Assert.ThrowsAsync<LeaseLostException>(() => Store.ContinueAsync(new ContinuationRequest(checkpoint.Id, 0, Fork: true, late) { FencingToken = stale }, Ct));

        Assert.Equal(before, await SnapshotAsync(run.Id, "exec"));
        Assert.Equal(checkpointsBefore, (await Store.ListCheckpointsAsync(run.Id, null, Ct)).Count);
        Assert.Null(await Store.GetJobAsync(run.Id, "exec", "unit-1/1", Ct));
        Assert.Empty(await Store.ListContinuationsAsync(checkpoint.Id, Ct));
        Assert.Equal(("worker-b", second.LeaseToken), ((await Store.GetRunAsync(run.Id, Ct))!.LeaseOwner, (await Store.GetRunAsync(run.Id, Ct))!.LeaseToken));
    }

    /// <summary>Fenced writes with the current token are applied; a fenced state change can release the lease.</summary>
    [Fact]
    public async Task Current_fencing_token_is_accepted_and_a_final_state_releases_the_lease()
    {
        var (run, checkpoint) = await CreateRunWithCheckpointAsync();
        var lease = (await Store.TryClaimRunAsync(run.Id, "worker-a", T0, T0 + LeaseTime, Ct))!;
        var token = lease.LeaseToken;

        await Store.UpdateRunStateAsync(run.Id, new RunState(RunStatus.Running, 2, "main", checkpoint.Id) { FencingToken = token }, T0.AddSeconds(1), Ct);
        await Store.SaveJobAsync(run.Id, "exec", "unit-1/1", "job-1", token, Ct);
        await Store.SaveUnitAsync(run.Id, "exec", new CompletedUnit(1, JsonArtifact("chunk", "chunk_1", "{}", 1), 0.5m), token, Ct);
        var committed = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, phase: 2, parentId: checkpoint.Id, executionKey: "exec") with { FencingToken = token }, Ct);
        var held = (await Store.GetRunAsync(run.Id, Ct))!;
        var paused = await Store.UpdateRunStateAsync(run.Id, new RunState(RunStatus.Paused, 2, "main", checkpoint.Id) { FencingToken = token, ReleaseLease = true }, T0.AddSeconds(2), Ct);

        Assert.Equal(2, committed.Phase);
        Assert.Equal(("worker-a", token, 0.5m), (held.LeaseOwner, held.LeaseToken, held.Cost));
        Assert.Equal(RunStatus.Paused, paused.Status);
        Assert.Null(paused.LeaseOwner);
        Assert.Equal(token, paused.LeaseToken);
        Assert.Equal(paused, (await Store.GetRunAsync(run.Id, Ct))! with { Input = paused.Input });
    }

    /// <summary>A change made outside the lease (a cancellation) ends the lease and fences out its holder.</summary>
    [Fact]
    public async Task Unfenced_state_change_ends_the_lease_and_bumps_the_token()
    {
        var run = await CreateRunAsync();
        var lease = (await Store.TryClaimRunAsync(run.Id, "worker-a", T0, T0 + LeaseTime, Ct))!;

        var cancelled = await Store.UpdateRunStateAsync(run.Id, new RunState(RunStatus.Cancelled, 1, "main", null), T0.AddSeconds(5), Ct);

        Assert.Null(cancelled.LeaseOwner);
        Assert.True(cancelled.LeaseToken > lease.LeaseToken);
        Assert.Equal(cancelled, (await Store.GetRunAsync(run.Id, Ct))! with { Input = cancelled.Input });
        await Assert.ThrowsAsync<LeaseLostException>(() => Store.RenewLeaseAsync(run.Id, lease.LeaseToken, T0 + LeaseTime, Ct));
        await Assert.ThrowsAsync<LeaseLostException>(() => Store.SaveJobAsync(run.Id, "exec", "unit-1/1", "job-1", lease.LeaseToken, Ct));
    }

    /// <summary>A queued continuation leaves the run Queued at the next phase and releases the continuer's lease.</summary>
    [Fact]
    public async Task Queued_continuation_leaves_the_run_queued_and_releases_the_lease()
    {
        var (run, checkpoint) = await CreateRunWithCheckpointAsync();
        var lease = (await Store.TryClaimRunAsync(run.Id, "api-1", T0, T0 + LeaseTime, Ct))!;
        var continuation = await Store.ContinueAsync(
            new ContinuationRequest(checkpoint.Id, 0, Fork: false, T0.AddSeconds(1))
            {
                FencingToken = lease.LeaseToken, Queue = true, RequestedBy = "reviewer-3", Description = "looks good",
            },
            Ct);

        var stored = (await Store.GetRunAsync(run.Id, Ct))!;
        Assert.Equal((RunStatus.Queued, 2, "main", checkpoint.Id), (stored.Status, stored.CurrentPhase, stored.CurrentBranch, stored.ParentCheckpointId));
        Assert.Null(stored.LeaseOwner);
        var listed = Assert.Single(await Store.ListContinuationsAsync(checkpoint.Id, Ct));
        Assert.Equal(0, listed.Revision);
        Assert.Equal(("reviewer-3", "looks good", "main"), (listed.RequestedBy, listed.Description, listed.Branch));
        Assert.Equal(0, continuation.Revision);
        var claimed = await Store.ClaimNextRunAsync("worker-1", T0.AddSeconds(2), T0.AddSeconds(2) + LeaseTime, Ct);
        Assert.Equal(run.Id, claimed?.Id);
    }

    /// <summary>
    /// The next-work claim takes queued runs and interrupted ones (Running with an ended lease), oldest first, and never
    /// paused, failed, completed, cancelled or held ones.
    /// </summary>
    [Fact]
    public async Task Claim_next_takes_queued_and_interrupted_runs_only()
    {
        var queued = await CreateRunAsync(createdAt: T0.AddSeconds(3));
        var interrupted = await CreateRunAsync(createdAt: T0.AddSeconds(1));
        await Store.UpdateRunStateAsync(interrupted.Id, new RunState(RunStatus.Running, 1, "main", null), T0.AddSeconds(1), Ct);
        var held = await CreateRunAsync(createdAt: T0);
        await Store.UpdateRunStateAsync(held.Id, new RunState(RunStatus.Running, 1, "main", null), T0, Ct);
        await Store.TryClaimRunAsync(held.Id, "other", T0, T0.AddHours(1), Ct);
        foreach (var status in new[] { RunStatus.Paused, RunStatus.Failed, RunStatus.Completed, RunStatus.Cancelled })
        {
            var other = await CreateRunAsync(createdAt: T0);
            await Store.UpdateRunStateAsync(other.Id, new RunState(status, 1, "main", null), T0, Ct);
        }

        var now = T0.AddMinutes(1);
        var first = await Store.ClaimNextRunAsync("worker-1", now, now + LeaseTime, Ct);
        var second = await Store.ClaimNextRunAsync("worker-2", now, now + LeaseTime, Ct);
        var third = await Store.ClaimNextRunAsync("worker-3", now, now + LeaseTime, Ct);

        Assert.Equal(interrupted.Id, first?.Id);
        Assert.Equal("worker-1", first?.LeaseOwner);
        Assert.Equal(queued.Id, second?.Id);
        Assert.Null(third);
    }

    /// <summary>Many concurrent claimers of the same runs: every run is claimed exactly once.</summary>
    [Fact]
    public async Task Concurrent_claims_never_hand_one_run_to_two_owners()
    {
        const int Runs = 12;
        const int Claimers = 6;
        for (var i = 0; i < Runs; i++)
        {
            await CreateRunAsync(createdAt: T0.AddSeconds(i));
        }

        var claims = new System.Collections.Concurrent.ConcurrentBag<Guid>();
        var direct = new System.Collections.Concurrent.ConcurrentBag<Guid>();
        var targets = (await Store.ListRunsAsync(null, 100, Ct)).Select(r => r.Id).ToList();
        await Task.WhenAll(Enumerable.Range(0, Claimers).Select(c => Task.Run(async () =>
        {
            var store = StoreForCaller(c);
            while (await store.ClaimNextRunAsync($"worker-{c}", T0.AddMinutes(1), T0.AddHours(1), Ct) is { } run)
            {
                claims.Add(run.Id);
            }

            foreach (var id in targets)
            {
                if (await store.TryClaimRunAsync(id, $"worker-{c}", T0.AddMinutes(1), T0.AddHours(1), Ct) is not null)
                {
                    direct.Add(id);
                }
            }
        }, Ct)));

        Assert.Equal(Runs, claims.Count);
        Assert.Equal(Runs, claims.Distinct().Count());
        Assert.Empty(direct);
    }

    /// <summary>Claims check their arguments before touching the store.</summary>
    [Fact]
    public async Task Claim_refuses_bad_arguments()
    {
        var run = await CreateRunAsync();
        var before = await SnapshotAsync(run.Id);

        await Assert.ThrowsAsync<ArgumentException>(() => Store.TryClaimRunAsync(run.Id, "", T0, T0 + LeaseTime, Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.TryClaimRunAsync(run.Id, new string('x', RunLease.MaxOwnerLength + 1), T0, T0 + LeaseTime, Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.TryClaimRunAsync(run.Id, "worker", T0, T0, Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.ClaimNextRunAsync("worker", T0, T0.AddSeconds(-1), Ct));
        await Assert.ThrowsAsync<RunNotFoundException>(() => Store.TryClaimRunAsync(Guid.NewGuid(), "worker", T0, T0 + LeaseTime, Ct));

        Assert.Equal(before, await SnapshotAsync(run.Id));
    }

    /// <summary>The event log keeps events in order with growing sequence numbers, and reads them per run from a position.</summary>
    [Fact]
    public async Task Event_log_reads_back_in_order_per_run_from_a_position()
    {
        var a = await CreateRunAsync();
        var b = await CreateRunAsync();
        var s1 = await Store.AppendEventAsync(a.Id, "phase_started", """{"phase":1}""", T0, Ct);
        var s2 = await Store.AppendEventAsync(b.Id, "phase_started", """{"phase":1}""", T0, Ct);
        var s3 = await Store.AppendEventAsync(a.Id, "unit_completed", """{"unit":1}""", T0.AddSeconds(1), Ct);

        Assert.True(s1 < s2 && s2 < s3);
        var all = await Store.ReadEventsAsync(null, 0, 100, Ct);
        Assert.Equal([s1, s2, s3], all.Select(e => e.Sequence).TakeLast(3));
        var ofA = await Store.ReadEventsAsync(a.Id, 0, 100, Ct);
        Assert.Equal([s1, s3], ofA.Select(e => e.Sequence));
        Assert.Equal(("unit_completed", """{"unit":1}""", T0.AddSeconds(1)), (ofA[1].Type, ofA[1].Payload, ofA[1].At));
        Assert.Equal([s3], (await Store.ReadEventsAsync(a.Id, s1, 100, Ct)).Select(e => e.Sequence));
        Assert.Single(await Store.ReadEventsAsync(null, 0, 1, Ct));
        Assert.Empty(await Store.ReadEventsAsync(a.Id, s3, 100, Ct));
    }

    /// <summary>The last event sequence of a run, or of the whole log, is the latest appended; 0 when there is none.</summary>
    [Fact]
    public async Task The_last_event_sequence_is_the_latest_of_the_run_or_of_the_log()
    {
        var a = await CreateRunAsync();
        var b = await CreateRunAsync();
        var before = await Store.GetLastEventSequenceAsync(null, Ct);

        var s1 = await Store.AppendEventAsync(a.Id, "phase_started", """{"phase":1}""", T0, Ct);
        var s2 = await Store.AppendEventAsync(a.Id, "unit_completed", """{"unit":1}""", T0, Ct);
        var s3 = await Store.AppendEventAsync(b.Id, "phase_started", """{"phase":1}""", T0, Ct);

        Assert.True(s1 > before);
        Assert.Equal(s2, await Store.GetLastEventSequenceAsync(a.Id, Ct));
        Assert.Equal(s3, await Store.GetLastEventSequenceAsync(b.Id, Ct));
        Assert.True(await Store.GetLastEventSequenceAsync(null, Ct) >= s3);
        Assert.Equal(0, await Store.GetLastEventSequenceAsync(Guid.NewGuid(), Ct));
    }
}
