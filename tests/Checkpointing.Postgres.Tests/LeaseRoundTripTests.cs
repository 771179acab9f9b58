using System.Text.Json;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Checkpointing.Postgres.Tests;

/// <summary>
/// The round trips to the server of the calls an executor makes under its lease: claim, renew and release cost one each,
/// so a lease adds at most three statements to a phase; a fenced commit and a fenced unit save cost one each, also when
/// the token is stale and nothing is written. Counted with Npgsql's own tracing (one span per command or batch sent, and
/// per physical connection opened) and its log (one entry per transaction committed or rolled back, which sends a
/// statement of its own; a BEGIN travels with the first command).
/// </summary>
public sealed class LeaseRoundTripTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly string _schema = SchemaFixture.NewSchemaName();
    private readonly RoundTripCounter _trips = new();
    private NpgsqlDataSource? _source;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await PostgresServer.RequireAsync();
        _source = PostgresServer.CreateDataSource("checkpointing-tests-roundtrips", _trips);
    }

    public async ValueTask DisposeAsync()
    {
        if (_source is not null)
        {
            await SchemaFixture.DropSchemaAsync(_source, _schema);
            await _source.DisposeAsync();
        }

        _trips.Dispose();
    }

    [Fact]
    public async Task Claim_renew_and_release_are_one_round_trip_each()
    {
        var store = Open();
        var run = await CreateRunAsync(store);

        var claimed = await _trips.CountAsync(() => store.TryClaimRunAsync(run.Id, "worker-1", T0, T0.AddSeconds(30), Ct));
        var renewed = await _trips.CountAsync(() => store.RenewLeaseAsync(run.Id, 1, T0.AddSeconds(60), Ct));
        var released = await _trips.CountAsync(() => store.ReleaseLeaseAsync(run.Id, 1, T0.AddSeconds(61), Ct));
        var next = await _trips.CountAsync(() => store.ClaimNextRunAsync("worker-2", T0.AddSeconds(62), T0.AddSeconds(92), Ct));

        Assert.Equal((1, 1, 1, 1), (claimed, renewed, released, next));
        Assert.Equal("worker-2", (await store.GetRunAsync(run.Id, Ct))!.LeaseOwner);
    }

    [Fact]
    public async Task A_fenced_commit_of_16_artifacts_is_one_round_trip()
    {
        var store = Open();
        var run = await CreateRunAsync(store);
        var token = (await store.TryClaimRunAsync(run.Id, "worker-1", T0, T0.AddSeconds(30), Ct))!.LeaseToken;
        await store.SaveUnitAsync(run.Id, "exec", new CompletedUnit(1, Artifact(1), 0.5m), token, Ct);
        await store.SaveJobAsync(run.Id, "exec", "unit-2/0", "job-2", token, Ct);
        var input = NewCheckpoint(run.Id, artifacts: 16, token);

        Checkpoint? saved = null;
        var trips = await _trips.CountAsync(async () => saved = await store.CommitCheckpointAsync(input, Ct));

        Assert.Equal(1, trips);
        Assert.Equal(1, saved!.Version);
        Assert.Equal(1, (await store.GetCheckpointAsync(input.Id, Ct))!.Version);
        var artifacts = await store.GetArtifactsAsync(input.Id, Ct);
        Assert.Equal(input.Artifacts.Select(a => a.Id).Order(), artifacts.Select(a => a.Id).Order());
        Assert.All(artifacts, a => Assert.Equal(1, a.Version));
        Assert.Equal(16, await CountAsync("artifact_versions WHERE artifact_id = ANY(@ids) AND version = 1", input));
        Assert.Equal(0.5m + 1.5m, (await store.GetRunAsync(run.Id, Ct))!.Cost);
        Assert.Empty(await store.GetUnitsAsync(run.Id, "exec", Ct));
        Assert.Null(await store.GetJobAsync(run.Id, "exec", "unit-2/0", Ct));
    }

    [Fact]
    public async Task A_commit_refused_for_a_stale_fencing_token_is_one_round_trip_and_writes_nothing()
    {
        var store = Open();
        var run = await CreateRunAsync(store);
        var stale = (await store.TryClaimRunAsync(run.Id, "worker-1", T0, T0.AddSeconds(30), Ct))!.LeaseToken;
        var current = (await store.TryClaimRunAsync(run.Id, "worker-2", T0.AddSeconds(31), T0.AddSeconds(61), Ct))!.LeaseToken;
        await store.SaveUnitAsync(run.Id, "exec", new CompletedUnit(1, Artifact(1), 0.5m), current, Ct);
        var input = NewCheckpoint(run.Id, artifacts: 16, stale);

        LeaseLostException? refused = null;
        var trips = await _trips.CountAsync(async () => refused = await Assert.ThrowsAsync<LeaseLostException>(() => store.CommitCheckpointAsync(input, Ct)));

        Assert.Equal(1, trips);
        Assert.Equal((stale, current), (refused!.Token, refused.CurrentToken));
        Assert.Contains("owned by 'worker-2'", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, await CountAsync("checkpoints WHERE run_id = @run", input));
        Assert.Equal(0, await CountAsync("artifacts WHERE id = ANY(@ids)", input));
        Assert.Equal(0, await CountAsync("artifact_versions WHERE artifact_id = ANY(@ids)", input));
        var after = (await store.GetRunAsync(run.Id, Ct))!;
        Assert.Equal((0.5m, "worker-2", current), (after.Cost, after.LeaseOwner, after.LeaseToken));
        Assert.Single(await store.GetUnitsAsync(run.Id, "exec", Ct));

        // The refused commit allocated no version.
        Assert.Equal(1, (await store.CommitCheckpointAsync(NewCheckpoint(run.Id, artifacts: 1, current), Ct)).Version);
    }

    [Fact]
    public async Task A_fenced_unit_save_is_one_round_trip_and_refused_with_a_stale_token_in_one_too()
    {
        var store = Open();
        var run = await CreateRunAsync(store);
        var stale = (await store.TryClaimRunAsync(run.Id, "worker-1", T0, T0.AddSeconds(30), Ct))!.LeaseToken;
        var current = (await store.TryClaimRunAsync(run.Id, "worker-2", T0.AddSeconds(31), T0.AddSeconds(61), Ct))!.LeaseToken;

        var saved = await _trips.CountAsync(() => store.SaveUnitAsync(run.Id, "exec", new CompletedUnit(1, Artifact(1), 0.5m), current, Ct));
        var refused = await _trips.CountAsync(() => Assert.ThrowsAsync<LeaseLostException>(
            () => store.SaveUnitAsync(run.Id, "exec", new CompletedUnit(1, Artifact(1), 9m), stale, Ct)));

        Assert.Equal((1, 1), (saved, refused));
        Assert.Equal(0.5m, Assert.Single(await store.GetUnitsAsync(run.Id, "exec", Ct)).Cost);
        Assert.Equal(0.5m, (await store.GetRunAsync(run.Id, Ct))!.Cost);
    }

    [Fact]
    public async Task An_artifact_edit_is_two_statements_and_a_commit()
    {
        var store = Open();
        var run = await CreateRunAsync(store);
        var checkpoint = await store.CommitCheckpointAsync(NewCheckpoint(run.Id, artifacts: 1, fencingToken: null), Ct);
        var update = new ArtifactUpdate
        {
            CheckpointId = checkpoint.Id,
            Type = "beat",
            Key = "beat_1",
            ExpectedVersion = 1,
            Content = ArtifactContent.FromJson(Json("""{"v":2}""")),
            Metadata = ArtifactMetadata.Empty,
            UpdatedBy = "editor",
            Reason = "edit",
            CostDelta = 0.25m,
            NewCheckpointOutput = Json("""{"edited":true}"""),
            At = T0.AddMinutes(1),
        };

        Artifact? updated = null;
        var trips = await _trips.CountAsync(async () => updated = await store.UpdateArtifactAsync(update, Ct));

        Assert.Equal(3, trips);
        Assert.Equal(2, updated!.Version);
        Assert.Equal([1, 2], (await store.GetArtifactHistoryAsync(updated.Id, Ct)).Select(v => v.Version));
        Assert.Equal(1.5m + 0.25m, (await store.GetRunAsync(run.Id, Ct))!.Cost);
        var edited = (await store.GetCheckpointAsync(checkpoint.Id, Ct))!;
        Assert.Equal(1.5m + 0.25m, edited.Cost);
        Assert.True(edited.Output!.Value.GetProperty("edited").GetBoolean());
    }

    private PostgresCheckpointStore Open() => new(_source!, new PostgresStoreOptions { SchemaName = _schema });

    private static async Task<Run> CreateRunAsync(PostgresCheckpointStore store)
    {
        var run = new Run
        {
            Id = Guid.NewGuid(),
            Pipeline = "p",
            OwnerId = "owner",
            Input = Json("{}"),
            Status = RunStatus.Queued,
            CurrentPhase = 1,
            CurrentBranch = "main",
            CreatedAt = T0,
            UpdatedAt = T0,
        };
        await store.CreateRunAsync(run, Ct); // migrates the schema first
        return run;
    }

    private static JsonElement Json(string text)
    {
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    private static NewArtifact Artifact(int unit) =>
        new(Guid.NewGuid(), "beat", $"beat_{unit}", ArtifactContent.FromJson(Json($$"""{"beat":{{unit}}}""")), ArtifactMetadata.Empty, unit);

    private static NewCheckpoint NewCheckpoint(Guid runId, int artifacts, long? fencingToken) =>
        new()
        {
            Id = Guid.NewGuid(),
            RunId = runId,
            Branch = "main",
            Phase = 2,
            Output = Json("""{"beats":16}"""),
            Cost = 1.5m,
            CreatedBy = "worker",
            Artifacts = Enumerable.Range(1, artifacts).Select(Artifact).ToList(),
            ExecutionKey = "exec",
            RunCostDelta = 1.5m,
            CreatedAt = T0.AddSeconds(40),
            FencingToken = fencingToken,
        };

    /// <summary>Counts the rows of a table's condition, with <c>@run</c> the checkpoint's run and <c>@ids</c> its artifact ids.</summary>
    private async Task<long> CountAsync(string tableAndCondition, NewCheckpoint checkpoint)
    {
        await using var command = _source!.CreateCommand($"SELECT COUNT(*) FROM \"{_schema}\".{tableAndCondition};");
        command.Parameters.AddWithValue("run", checkpoint.RunId);
        command.Parameters.AddWithValue("ids", checkpoint.Artifacts.Select(a => a.Id).ToArray());
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }
}
