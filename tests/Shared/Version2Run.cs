using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace Checkpointing.Testing;

/// <summary>
/// One run as schema version 2 of a store held it (before revisions), and what the upgrade to version 3 must make of
/// it. Each store's test writes these rows with its own SQL, in the order listed (the order version 2 wrote them), then
/// migrates and asserts through the store and the runner.
/// </summary>
/// <remarks>
/// Phase 1 (P, branch main) holds spec/spec and beat/beat_1. Its edits in the order they were written: spec v2, beat_1
/// v2, spec v3, so revisions 1, 2 and 3. P was continued on the fork main-1 after the first edit; the phase-2 checkpoint
/// C it produced consumed spec v2 and beat_1 v1 (as did the continuation record). C's image/beat_1 was edited once,
/// between P's second and third edits, and C was continued by a record without pins (as version 1 wrote them); the run
/// is queued at phase 3 after C. Beat's id sorts before spec's, so neither the ids' order nor the versions' order is
/// the order of the edits.
/// </remarks>
internal sealed class Version2Run
{
    public static readonly DateTimeOffset T0 = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>The run's input.</summary>
    public const string Input = """{"topic":"upgrade"}""";

    /// <summary>P's output.</summary>
    public const string Output = """{"beats":1}""";

    /// <summary>What version 2 stored as artifact metadata with nothing set (System.Text.Json, general defaults).</summary>
    public const string Metadata = """{"Prompt":null,"Model":null,"Seed":null,"ExternalJobId":null,"Cost":0,"Extra":null}""";

    public Version2Run()
    {
        var (first, second) = (Guid.NewGuid(), Guid.NewGuid());
        var ordered = string.CompareOrdinal(first.ToString("D"), second.ToString("D")) < 0;
        Beat = ordered ? first : second;
        Spec = ordered ? second : first;
        Artifacts =
        [
            new(Beat, P, "beat", "beat_1", null),
            new(Spec, P, "spec", "spec", null),
            new(Image, C, "image", "beat_1", 1),
        ];
        Versions =
        [
            new(Beat, 1, At(1), "beat v1", "owner", null),
            new(Spec, 1, At(1), "spec v1", "owner", null),
            new(Spec, 2, At(2), "spec v2", "alice", "shorter"),
            new(Image, 1, At(4), "image v1", "alice", null),
            new(Beat, 2, At(5), "beat v2", "bob", "brighter"),
            new(Image, 2, At(6), "image v2", "bob", "sharper"),
            new(Spec, 3, At(7), "spec v3", "carol", "longer"),
        ];
    }

    public Guid RunId { get; } = Guid.NewGuid();

    /// <summary>The phase-1 checkpoint.</summary>
    public Guid P { get; } = Guid.NewGuid();

    /// <summary>The phase-2 checkpoint on main-1, built from P after its first edit.</summary>
    public Guid C { get; } = Guid.NewGuid();

    public Guid Beat { get; }

    public Guid Spec { get; }

    public Guid Image { get; } = Guid.NewGuid();

    public IReadOnlyList<ArtifactRow> Artifacts { get; }

    /// <summary>Every artifact version, in the order version 2 wrote them.</summary>
    public IReadOnlyList<VersionRow> Versions { get; }

    /// <summary>
    /// C's consumed pins and the continuation record's pins, as version 2 serialized its ArtifactPin list
    /// (System.Text.Json, general defaults): P's artifacts after the first edit, in the order P listed them.
    /// </summary>
    public string PinsAfterFirstEdit =>
        $$"""[{"ArtifactId":"{{Beat}}","CheckpointId":"{{P}}","Phase":1,"Type":"beat","Key":"beat_1","Version":1},""" +
        $$"""{"ArtifactId":"{{Spec}}","CheckpointId":"{{P}}","Phase":1,"Type":"spec","Key":"spec","Version":2}]""";

    /// <summary>The fingerprint version 2 keyed the continuation by (SHA-256 of the sorted type/key@version lines).</summary>
    public static string FingerprintAfterFirstEdit =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("beat/beat_1@1\nspec/spec@2")));

    public static DateTimeOffset At(int minutes) => T0.AddMinutes(minutes);

    /// <summary>Inline JSON content as version 2 stored it.</summary>
    public static string Content(string text) => $$"""{"Json":{"text":"{{text}}"},"Blob":null}""";

    /// <summary>The version an artifact row held: its last one.</summary>
    public VersionRow Current(Guid artifactId) => Versions.Last(v => v.ArtifactId == artifactId);

    /// <summary>
    /// Checks the upgraded store: revisions numbered per checkpoint in write order, the parent revision read from the
    /// pins, the artifacts as they stood at each revision, continuations keyed by revision (the upgraded records found
    /// again, so nothing runs twice).
    /// </summary>
    public async Task AssertUpgradedAsync(ICheckpointStore store, CancellationToken ct)
    {
        var p = (await store.GetCheckpointAsync(P, ct))!;
        var c = (await store.GetCheckpointAsync(C, ct))!;
        Assert.Equal((3L, (long?)null), (p.Revision, p.ParentRevision));
        Assert.Equal((1L, (long?)1), (c.Revision, c.ParentRevision));

        Assert.Equal([(1, 0L), (2, 1L), (3, 3L)], (await store.GetArtifactHistoryAsync(Spec, ct)).Select(v => (v.Version, v.Revision)));
        Assert.Equal([(1, 0L), (2, 2L)], (await store.GetArtifactHistoryAsync(Beat, ct)).Select(v => (v.Version, v.Revision)));
        Assert.Equal([(1, 0L), (2, 1L)], (await store.GetArtifactHistoryAsync(Image, ct)).Select(v => (v.Version, v.Revision)));

        Assert.Equal(["beat/beat_1@1 beat v1", "spec/spec@1 spec v1"], Describe(await store.GetArtifactsAsync(P, 0, ct)));
        Assert.Equal(["beat/beat_1@1 beat v1", "spec/spec@2 spec v2"], Describe(await store.GetArtifactsAsync(P, 1, ct)));
        Assert.Equal(["beat/beat_1@2 beat v2", "spec/spec@2 spec v2"], Describe(await store.GetArtifactsAsync(P, 2, ct)));
        Assert.Equal(["beat/beat_1@2 beat v2", "spec/spec@3 spec v3"], Describe(await store.GetArtifactsAsync(P, 3, ct)));
        Assert.Equal(["beat/beat_1@2 beat v2", "spec/spec@3 spec v3"], Describe(await store.GetArtifactsAsync(P, ct)));
        Assert.Equal(["image/beat_1@1 image v1"], Describe(await store.GetArtifactsAsync(C, 0, ct)));
        Assert.Equal(["image/beat_1@2 image v2"], Describe(await store.GetArtifactsAsync(C, 1, ct)));

        var continuation = Assert.Single(await store.ListContinuationsAsync(P, ct));
        Assert.Equal(new Continuation(P, 1, "main-1", true, At(3), false) { RequestedBy = "alice", Description = "shorter spec" }, continuation);
        Assert.Equal(At(3).Offset, continuation.CreatedAt.Offset);
        var pinless = Assert.Single(await store.ListContinuationsAsync(C, ct));
        Assert.Equal(new Continuation(C, 1, "main-1", false, At(8), false), pinless);

        // Continuing P at the revision the upgraded record consumed finds that record: no branch, nothing to run again.
        var again = await store.ContinueAsync(new ContinuationRequest(P, 1, Fork: true, At(20)), ct);
        Assert.Equal(continuation with { Existing = true }, again);
        Assert.Equal(["main", "main-1"], (await store.ListBranchesAsync(RunId, ct)).Select(b => b.Name));

        // P's later edits were never continued: continuing at its revision now is new.
        var later = await store.ContinueAsync(new ContinuationRequest(P, 3, Fork: true, At(21)), ct);
        Assert.Equal((3L, "main-2", true, false), (later.Revision, later.Branch, later.BranchCreated, later.Existing));
        Assert.Equal([1L, 3L], (await store.ListContinuationsAsync(P, ct)).Select(x => x.Revision));
    }

    /// <summary>
    /// Retries the queued run through the runner on the upgraded store: phase 3 consumes C at the revision of its
    /// upgraded continuation and P as C consumed it (spec v2 and beat_1 v1, not P's later edits).
    /// </summary>
    public async Task AssertRunnerConsumesWhatWasPinnedAsync(Action<CheckpointingBuilder> useStore, CancellationToken ct)
    {
        var blobs = Path.Combine(Path.GetTempPath(), "checkpointing-upgrade-blobs-" + Guid.NewGuid().ToString("N"));
        try
        {
            var services = new ServiceCollection();
            services.AddCheckpointing(b =>
            {
                b.AddPipeline("video", pipeline => pipeline
                        .AddPhase(new NotRunPhase("plan", "spec", "beat"))
                        .AddPhase(new NotRunPhase("images", "image"))
                        .AddPhase(new InputsPhase()))
                    .UseFileSystemBlobStore(o => o.RootPath = blobs);
                useStore(b);
            });
            await using var provider = services.BuildServiceProvider(validateScopes: true);

            var result = await provider.GetRequiredService<CheckpointRunner>().RetryAsync(RunId, ct);

            string[] consumed = ["1 beat/beat_1@1", "1 spec/spec@2", "2 image/beat_1@2"];
            Assert.Equal(RunStatus.Completed, result.Run.Status);
            var d = result.Checkpoint!;
            Assert.Equal((3, "main-1", (Guid?)C, (long?)1), (d.Phase, d.Branch, d.ParentId, d.ParentRevision));
            Assert.Equal(consumed, d.Output!.Value.GetProperty("inputs").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal("spec v2", d.Output!.Value.GetProperty("spec").GetString());

            var queries = provider.GetRequiredService<CheckpointQueries>();
            Assert.Equal(consumed, Describe(await queries.GetInputsAsync(d.Id, ct)));
            Assert.Equal(consumed[..2], Describe(await queries.GetInputsAsync(C, ct)));
        }
        finally
        {
            if (Directory.Exists(blobs))
            {
                Directory.Delete(blobs, recursive: true);
            }
        }
    }

    private static string[] Describe(IEnumerable<Artifact> artifacts) =>
        [.. artifacts.Select(a => $"{a.Type}/{a.Key}@{a.Version} {a.Content.Json?.GetProperty("text").GetString()}")];

    private static string[] Describe(IEnumerable<ArtifactPin> pins) => [.. pins.Select(Describe)];

    private static string Describe(ArtifactPin pin) => $"{pin.Phase} {pin.Type}/{pin.Key}@{pin.Version}";

    /// <summary>An artifact row: which checkpoint holds it, its type, key and unit.</summary>
    public sealed record ArtifactRow(Guid Id, Guid CheckpointId, string Type, string Key, int? UnitIndex);

    /// <summary>An artifact version row (its parent version is the one before).</summary>
    public sealed record VersionRow(Guid ArtifactId, int Version, DateTimeOffset At, string Text, string? By, string? Reason)
    {
        public int? ParentVersion => Version == 1 ? null : Version - 1;
    }

    /// <summary>A phase the upgraded run has already passed.</summary>
    private sealed class NotRunPhase(string name, params string[] types) : Phase(name)
    {
        public override IReadOnlyList<ArtifactSpec> Artifacts { get; } = [.. types.Select(t => new ArtifactSpec(t))];

        public override Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken) =>
            throw new InvalidOperationException($"Phase {context.PhaseNumber} ran again after the upgrade.");
    }

    /// <summary>Reports what it consumed: every input pin, and the text of spec/spec at the pinned version.</summary>
    private sealed class InputsPhase() : Phase("final")
    {
        public override IReadOnlyList<ArtifactSpec> Artifacts { get; } = [new ArtifactSpec("inputs")];

        public override async Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken)
        {
            var inputs = Describe(await context.GetInputsAsync(cancellationToken));
            var spec = await context.ReadJsonInputAsync<JsonElement>("spec", "spec", cancellationToken: cancellationToken);
            var output = JsonSerializer.SerializeToElement(new { inputs, spec = spec.GetProperty("text").GetString() });
            return new PhaseResult([new PhaseArtifact("inputs", "inputs", ArtifactContent.FromJson(output))], output);
        }
    }
}
