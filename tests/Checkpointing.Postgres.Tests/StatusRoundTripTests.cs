using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Checkpointing.Postgres.Tests;

/// <summary>
/// A run's status, tree, active branches and current checkpoint each cost one round trip to the server, however many
/// checkpoints and branches the run has: counted with Npgsql's own tracing and transaction log (see
/// <see cref="RoundTripCounter"/>), so a COMMIT would count too.
/// </summary>
public sealed class StatusRoundTripTests : IAsyncLifetime
{
    private CountedSdkHost? _host;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await PostgresServer.RequireAsync();
        _host = new CountedSdkHost("checkpointing-tests-status-roundtrips", b => b.AddPipeline("three", p => p.AddPhase(new JsonPhase("one")).AddPhase(new JsonPhase("two")).AddPhase(new JsonPhase("three"))));
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    [Fact]
    public async Task Status_tree_active_branches_and_current_checkpoint_are_one_round_trip_each()
    {
        var runner = _host!.Services.GetRequiredService<CheckpointRunner>();
        var queries = _host!.Services.GetRequiredService<CheckpointQueries>();
        var store = _host!.Services.GetRequiredService<ICheckpointStore>();
        using var input = JsonDocument.Parse("{}");
        var started = await runner.StartAsync(new StartRunRequest("three", "owner", input.RootElement.Clone()), Ct); // migrates first
        var next = await runner.ContinueAsync(started.Checkpoint!.Id, cancellationToken: Ct);
        await store.CreateBranchAsync(started.Run.Id, BranchNames.Main, started.Checkpoint.Id, DateTimeOffset.UtcNow, Ct);
        var runId = started.Run.Id;

        var commands = _host.Trips;
        var status = await commands.CountAsync(() => queries.GetStatusAsync(runId, Ct));
        var tree = await commands.CountAsync(() => queries.GetTreeAsync(runId, Ct));
        var branches = await commands.CountAsync(() => queries.GetActiveBranchesAsync(runId, Ct));
        var current = await commands.CountAsync(() => queries.GetCurrentCheckpointAsync(runId, Ct));
        var missing = await commands.CountAsync(() => Assert.ThrowsAsync<RunNotFoundException>(() => queries.GetStatusAsync(Guid.NewGuid(), Ct)));

        Assert.Equal((1, 1, 1, 1, 1), (status, tree, branches, current, missing));
        var snapshot = await queries.GetStatusAsync(runId, Ct);
        Assert.Equal([(BranchNames.Main, next.Checkpoint!.Id)], snapshot.ActiveBranches.Select(b => (b.Branch, b.Leaf.Id)));
        Assert.Equal(next.Checkpoint.Id, Assert.Single(Assert.Single(snapshot.Tree).Children).Checkpoint.Id);
        Assert.Equal(["main", "main-1"], snapshot.Branches.Select(b => b.Name));
        Assert.Equal(next.Checkpoint.Id, snapshot.Current?.Id);
    }

    private sealed class JsonPhase(string name) : Phase(name)
    {
        public override IReadOnlyList<ArtifactSpec> Artifacts => [new ArtifactSpec(Name)];

        public override Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken) =>
            Task.FromResult(new PhaseResult([new PhaseArtifact(Name, "x", ArtifactContent.FromJson(JsonSerializer.SerializeToElement(new { name = Name })))]));
    }
}
