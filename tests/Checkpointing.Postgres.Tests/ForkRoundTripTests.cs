using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Checkpointing.Postgres.Tests;

/// <summary>
/// A fork costs the same number of round trips whatever the number of artifacts of the checkpoint forked: nothing per
/// artifact is read or written (the continuation records the checkpoint's revision, the next checkpoint names it).
/// Counted with Npgsql's own tracing and transaction log (<see cref="RoundTripCounter"/>).
/// </summary>
public sealed class ForkRoundTripTests : IAsyncLifetime
{
    private const int Wide = 400;
    private CountedSdkHost? _host;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await PostgresServer.RequireAsync();
        _host = new CountedSdkHost("checkpointing-tests-fork-roundtrips", b => b.AddPipeline("fork", p => p.AddPhase(new WidePhase()).AddPhase(new NextPhase("next")).AddPhase(new NextPhase("last"))));
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    [Fact]
    public async Task Forking_a_checkpoint_of_400_artifacts_takes_the_round_trips_of_forking_one_of_1()
    {
        var provider = _host!.Services;
        var runner = provider.GetRequiredService<CheckpointRunner>();
        var editor = provider.GetRequiredService<CheckpointEditor>();
        var store = provider.GetRequiredService<Storage.ICheckpointStore>();
        var one = (await runner.StartAsync(Request(1), Ct)).Checkpoint!;
        var wide = (await runner.StartAsync(Request(Wide), Ct)).Checkpoint!;
        await editor.PatchJsonAsync(one.Id, "beat", "beat_1", """{"edited":true}""", cancellationToken: Ct);
        await editor.PatchJsonAsync(wide.Id, "beat", "beat_1", """{"edited":true}""", cancellationToken: Ct);

        var commands = _host.Trips;

        // The store's part: record the continuation at the checkpoint's revision and create the branch.
        var storeOne = await commands.CountAsync(() => store.ContinueAsync(new Storage.ContinuationRequest(one.Id, 1, Fork: true, DateTimeOffset.UtcNow), Ct));
        var storeWide = await commands.CountAsync(() => store.ContinueAsync(new Storage.ContinuationRequest(wide.Id, 1, Fork: true, DateTimeOffset.UtcNow), Ct));
        Assert.Equal(storeOne, storeWide);
        Assert.DoesNotContain(commands.LastStatements, ReadsArtifacts);

        // Through the runner: continue the edited checkpoint again (a second edit makes it a new fork), which also runs
        // and commits the next phase; that phase reads none of its 400 inputs, so nothing per artifact is read.
        await editor.PatchJsonAsync(one.Id, "beat", "beat_1", """{"edited":2}""", cancellationToken: Ct);
        await editor.PatchJsonAsync(wide.Id, "beat", "beat_1", """{"edited":2}""", cancellationToken: Ct);
        ContinueResult? forkOne = null, forkWide = null;
        var runnerOne = await commands.CountAsync(async () => forkOne = await runner.ContinueAsync(one.Id, cancellationToken: Ct));
        var runnerWide = await commands.CountAsync(async () => forkWide = await runner.ContinueAsync(wide.Id, cancellationToken: Ct));
        Assert.DoesNotContain(commands.LastStatements, ReadsArtifacts);

        Assert.Equal((true, "main-2", 2L), (forkOne!.BranchCreated, forkOne.Branch, forkOne.Checkpoint!.ParentRevision));
        Assert.Equal((true, "main-2", 2L), (forkWide!.BranchCreated, forkWide.Branch, forkWide.Checkpoint!.ParentRevision));
        Assert.Equal(runnerOne, runnerWide);
        Assert.InRange(storeWide, 1, 12);

        // The inputs are still exact: the fork of the wide checkpoint consumed all 400 artifacts, beat_1 at version 3.
        var inputs = await provider.GetRequiredService<CheckpointQueries>().GetInputsAsync(forkWide.Checkpoint.Id, Ct);
        Assert.Equal(Wide, inputs.Count);
        Assert.Equal(3, inputs.Single(p => p.Key == "beat_1").Version);
        Assert.All(inputs.Where(p => p.Key != "beat_1"), p => Assert.Equal(1, p.Version));
    }

    /// <summary>Whether a statement reads artifact rows (the commit of the next phase inserts its own, which is not reading).</summary>
    private static bool ReadsArtifacts(string sql) =>
        System.Text.RegularExpressions.Regex.IsMatch(sql, @"\bFROM\s+\S*\.?""?(artifacts|artifact_versions)\b", System.Text.RegularExpressions.RegexOptions.IgnoreCase);

    private static StartRunRequest Request(int artifacts) => new("fork", "owner", JsonSerializer.SerializeToElement(new { artifacts }));

    /// <summary>Phase 1: N small JSON artifacts (the input says how many), each editable.</summary>
    private sealed class WidePhase() : Phase("wide")
    {
        public override IReadOnlyList<ArtifactSpec> Artifacts { get; } = [new ArtifactSpec("beat") { AllowedEdits = EditKinds.PatchJson }];

        public override Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken)
        {
            var n = context.Run.Input.GetProperty("artifacts").GetInt32();
            return Task.FromResult(new PhaseResult(Enumerable.Range(1, n)
                .Select(i => new PhaseArtifact("beat", $"beat_{i}", ArtifactContent.FromJson(JsonSerializer.SerializeToElement(new { i }))))
                .ToList()));
        }
    }

    /// <summary>A phase that writes one small artifact and reads nothing.</summary>
    private sealed class NextPhase(string name) : Phase(name)
    {
        public override IReadOnlyList<ArtifactSpec> Artifacts => [new ArtifactSpec(Name)];

        public override Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken) =>
            Task.FromResult(new PhaseResult([new PhaseArtifact(Name, "summary", ArtifactContent.FromJson(JsonSerializer.SerializeToElement(new { n = 0 })))]));
    }
}
