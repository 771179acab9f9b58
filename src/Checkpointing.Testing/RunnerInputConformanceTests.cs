using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace Checkpointing.Conformance;

/// <summary>
/// Bad input through Core's runner and editor on a store: every store refuses the same values the same way, with the
/// SDK's specific exception naming the field, before anything is paid for, and leaves the store (runs, checkpoints,
/// artifact versions and history, blobs) exactly as it was. Also the budget seam (raise a budget, then retry) and run
/// paging, which need the store. A provider's test project derives from this class and says how to add its store.
/// </summary>
public abstract class RunnerInputConformanceTests : IAsyncLifetime
{
    /// <summary>The inline JSON limit the tests configure (smaller than the default, so the tests stay light).</summary>
    protected const long JsonLimit = 4096;

    private readonly string _blobs = Path.Combine(Path.GetTempPath(), "checkpointing-input-blobs-" + Guid.NewGuid().ToString("N"));
    private readonly Probe _probe = new();
    private ServiceProvider? _provider;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Adds the store under test to the builder.</summary>
    /// <param name="builder">The Checkpointing builder.</param>
    protected abstract void UseStore(CheckpointingBuilder builder);

    private ServiceProvider Provider => _provider ??= BuildProvider();

    private CheckpointRunner Runner => Provider.GetRequiredService<CheckpointRunner>();

    private CheckpointEditor Editor => Provider.GetRequiredService<CheckpointEditor>();

    private ICheckpointStore Store => Provider.GetRequiredService<ICheckpointStore>();

    /// <summary>Prepares the store (e.g. checks that its server answers).</summary>
    public virtual ValueTask InitializeAsync() => ValueTask.CompletedTask;

    /// <summary>Removes what the test stored.</summary>
    public virtual async ValueTask DisposeAsync()
    {
        if (_provider is not null)
        {
            await _provider.DisposeAsync();
        }

        if (Directory.Exists(_blobs))
        {
            Directory.Delete(_blobs, recursive: true);
        }

        GC.SuppressFinalize(this);
    }

    private ServiceProvider BuildProvider(TimeProvider? time = null)
    {
        var services = new ServiceCollection();
        if (time is not null)
        {
            services.AddSingleton(time);
        }

        services.AddCheckpointing(
            b =>
            {
                b.AddPipeline("checks", p => p.AddPhase(new PlanPhase(_probe)).AddPhase(new ImagesPhase(_probe)).AddPhase(new FinalPhase()))
                    .UseFileSystemBlobStore(o => o.RootPath = _blobs);
                UseStore(b);
            },
            o => o.MaxInlineJsonBytes = JsonLimit);
        return services.BuildServiceProvider(validateScopes: true);
    }

    private static StartRunRequest Request(string owner = "owner-1", int units = 2, decimal? budget = null) =>
        new("checks", owner, JsonSerializer.SerializeToElement(new { units })) { Budget = budget };

    /// <summary>Everything the store holds: every run with its branches, checkpoints, artifacts and their history, and the blob count.</summary>
    private async Task<string> SnapshotAsync(bool includeRuns = true)
    {
        var runs = await Store.ListRunsAsync(null, 1000, Ct);
        var details = new List<object>();
        foreach (var run in runs)
        {
            // Without the runs, a checkpoint's approval (recorded by a continue before its phase runs) is left out too.
            var checkpoints = (await Store.ListCheckpointsAsync(run.Id, null, Ct))
                .Select(c => includeRuns ? c : c with { Status = CheckpointStatus.Pending, ApprovedAt = null }).ToList();
            var artifacts = new List<object>();
            foreach (var checkpoint in checkpoints)
            {
                foreach (var artifact in await Store.GetArtifactsAsync(checkpoint.Id, Ct))
                {
                    artifacts.Add(new { artifact, history = await Store.GetArtifactHistoryAsync(artifact.Id, Ct) });
                }
            }

            details.Add(new { run = includeRuns ? run : null, branches = await Store.ListBranchesAsync(run.Id, Ct), checkpoints, artifacts });
        }

        var blobs = Directory.Exists(_blobs) ? Directory.EnumerateFiles(_blobs, "*", SearchOption.AllDirectories).Count() : 0;
        return JsonSerializer.Serialize(new { count = runs.Count, details, blobs });
    }

    private async Task<TException> AssertRefusedAsync<TException>(Func<Task> action, bool includeRuns = true)
        where TException : CheckpointingException
    {
        var before = await SnapshotAsync(includeRuns);
        var paid = _probe.Paid;

        var error = await Assert.ThrowsAnyAsync<TException>(action);

        Assert.False(string.IsNullOrWhiteSpace(error.Message));
        Assert.DoesNotContain('\0', error.Message);
        Assert.Equal(before, await SnapshotAsync(includeRuns));
        Assert.Equal(paid, _probe.Paid);
        return error;
    }

    /// <summary>The bad start requests, by name.</summary>
    public static TheoryData<string> BadStartRequests() =>
    [
        "default input", "empty owner", "null owner", "blank pipeline", "null pipeline", "negative budget", "empty run id",
        "NUL in owner", "lone surrogate in owner", "10 KB owner", "NUL in input", "escaped lone surrogate in input",
        "NUL in an input property name", "input over the JSON limit",
    ];

    /// <summary>A bad start request is refused naming the field and stores nothing.</summary>
    [Theory]
    [MemberData(nameof(BadStartRequests))]
    public async Task A_bad_start_request_is_refused_naming_the_field_and_stores_nothing(string name)
    {
        var (request, field) = name switch
        {
            "default input" => (Request() with { Input = default }, "StartRunRequest.Input"),
            "empty owner" => (Request(owner: ""), "StartRunRequest.OwnerId"),
            "null owner" => (Request(owner: null!), "StartRunRequest.OwnerId"),
            "blank pipeline" => (Request() with { Pipeline = "  " }, "StartRunRequest.Pipeline"),
            "null pipeline" => (Request() with { Pipeline = null! }, "StartRunRequest.Pipeline"),
            "negative budget" => (Request(budget: -1m), "StartRunRequest.Budget"),
            "empty run id" => (Request() with { RunId = Guid.Empty }, "StartRunRequest.RunId"),
            "NUL in owner" => (Request(owner: "ow\0ner"), "StartRunRequest.OwnerId"),
            "lone surrogate in owner" => (Request(owner: "ow\uD800ner"), "StartRunRequest.OwnerId"),
            "10 KB owner" => (Request(owner: new string('o', 10_000)), "StartRunRequest.OwnerId"),
            "NUL in input" => (Request() with { Input = JsonDocument.Parse("""{"units":2,"topic":"a\u0000b"}""").RootElement }, "StartRunRequest.Input"),
            "escaped lone surrogate in input" => (Request() with { Input = JsonDocument.Parse("""{"units":2,"topic":"a\ud800b"}""").RootElement }, "StartRunRequest.Input"),
            "NUL in an input property name" => (Request() with { Input = JsonDocument.Parse("""{"units":2,"a\u0000":1}""").RootElement }, "StartRunRequest.Input"),
            "input over the JSON limit" => (Request() with { Input = JsonSerializer.SerializeToElement(new { units = 2, topic = new string('x', 5000) }) }, "StartRunRequest.Input"),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
        await Runner.StartAsync(Request(), Ct); // the store holds something to compare

        var error = await AssertRefusedAsync<InvalidInputException>(() => Runner.StartAsync(request, Ct));

        Assert.Equal(field, error.Field);
        Assert.Contains(field, error.Message, StringComparison.Ordinal);
        if (name.Contains("NUL", StringComparison.Ordinal))
        {
            Assert.Equal("U+0000 (NUL)", Assert.IsType<UnsupportedCharacterException>(error).Character);
        }

        if (name.Contains("surrogate", StringComparison.Ordinal))
        {
            Assert.Contains("surrogate", Assert.IsType<UnsupportedCharacterException>(error).Character, StringComparison.Ordinal);
        }

        if (name == "10 KB owner")
        {
            Assert.Equal(256, Assert.IsType<InputTooLargeException>(error).Limit);
        }

        if (name == "input over the JSON limit")
        {
            Assert.Contains($"limit is {JsonLimit} bytes", Assert.IsType<InputTooLargeException>(error).Message, StringComparison.Ordinal);
        }
    }

    /// <summary>Continue options that cannot be stored are refused before the next phase runs.</summary>
    [Theory]
    [InlineData("NUL in requester")]
    [InlineData("NUL in description")]
    [InlineData("lone surrogate in description")]
    [InlineData("long description")]
    [InlineData("long requester")]
    public async Task Continue_options_that_cannot_be_stored_are_refused_before_the_next_phase_runs(string name)
    {
        var plan = (await Runner.StartAsync(Request(units: 3), Ct)).Checkpoint!;
        var options = name switch
        {
            "NUL in requester" => new ContinueOptions(RequestedBy: "ana\0"),
            "NUL in description" => new ContinueOptions(Description: "fix\0 beat 2"),
            "lone surrogate in description" => new ContinueOptions(Description: "fix \uDC00 beat 2"),
            "long description" => new ContinueOptions(Description: new string('d', 20_000)),
            _ => new ContinueOptions(RequestedBy: new string('r', 10_000)),
        };

        var error = await AssertRefusedAsync<InvalidInputException>(() => Runner.ContinueAsync(plan.Id, options, Ct));

        Assert.StartsWith("ContinueOptions.", error.Field, StringComparison.Ordinal);
        Assert.Equal(RunStatus.Paused, (await Store.GetRunAsync(plan.RunId, Ct))!.Status);
    }

    /// <summary>A regeneration with text that cannot be stored is refused before paying.</summary>
    [Theory]
    [InlineData("NUL in prompt override")]
    [InlineData("long prompt override")]
    [InlineData("NUL in model override")]
    [InlineData("NUL in editor")]
    [InlineData("long description")]
    public async Task A_regeneration_with_text_that_cannot_be_stored_is_refused_before_paying(string name)
    {
        var plan = (await Runner.StartAsync(Request(), Ct)).Checkpoint!;
        var images = (await Runner.ContinueAsync(plan.Id, cancellationToken: Ct)).Checkpoint!;
        var (overrides, options) = name switch
        {
            "NUL in prompt override" => (new UnitOverrides(Prompt: "a red\0 bike"), null),
            "long prompt override" => (new UnitOverrides(Prompt: new string('p', 20_000)), null),
            "NUL in model override" => (new UnitOverrides(Model: "flux\0"), null),
            "NUL in editor" => (null, new EditOptions(EditedBy: "\0")),
            _ => ((UnitOverrides?)null, new EditOptions(Description: new string('d', 20_000))),
        };

        await AssertRefusedAsync<InvalidInputException>(() => Editor.RegenerateUnitAsync(images.Id, 1, overrides, options, Ct));
    }

    /// <summary>A patch over the json limit or with a NUL is refused naming the limit or the character.</summary>
    [Fact]
    public async Task A_patch_over_the_json_limit_or_with_a_NUL_is_refused_naming_the_limit_or_the_character()
    {
        var plan = (await Runner.StartAsync(Request(), Ct)).Checkpoint!;

        var tooLarge = await AssertRefusedAsync<InputTooLargeException>(() =>
            Editor.PatchJsonAsync(plan.Id, "spec", "spec", JsonSerializer.Serialize(new { note = new string('n', 5000) }), cancellationToken: Ct));
        Assert.Equal(JsonLimit, tooLarge.Limit);
        Assert.Contains("4096 bytes", tooLarge.Message, StringComparison.Ordinal);

        // Small enough as a patch, too large once merged into the document.
        await Editor.PatchJsonAsync(plan.Id, "spec", "spec", JsonSerializer.Serialize(new { a = new string('a', 2500) }), cancellationToken: Ct);
        var merged = await AssertRefusedAsync<InputTooLargeException>(() =>
            Editor.PatchJsonAsync(plan.Id, "spec", "spec", JsonSerializer.Serialize(new { b = new string('b', 2500) }), cancellationToken: Ct));
        Assert.Contains("patched 'spec/spec'", merged.Message, StringComparison.Ordinal);

        var nul = await AssertRefusedAsync<UnsupportedCharacterException>(() =>
            Editor.PatchJsonAsync(plan.Id, "spec", "spec", """{"note":"a\u0000b"}""", cancellationToken: Ct));
        Assert.Equal("U+0000 (NUL)", nul.Character);
    }

    /// <summary>Keys a unit phase may wrongly give its units, by name.</summary>
    public static TheoryData<string> BadUnitKeys() => ["../x", "a/b", "empty", "10 KB", "NUL", "duplicate"];

    /// <summary>Bad unit keys fail the phase before anything is generated and the error can be stored.</summary>
    [Theory]
    [MemberData(nameof(BadUnitKeys))]
    public async Task Bad_unit_keys_fail_the_phase_before_anything_is_generated_and_the_error_can_be_stored(string name)
    {
        _probe.UnitKey = name switch
        {
            "empty" => _ => "",
            "10 KB" => _ => new string('k', 10_000),
            "NUL" => i => $"beat\0{i}",
            "duplicate" => _ => "beat",
            _ => _ => name,
        };
        var plan = (await Runner.StartAsync(Request(units: 3), Ct)).Checkpoint!;
        var before = await SnapshotAsync(includeRuns: false);
        var paid = _probe.Paid;

        var result = await Runner.ContinueAsync(plan.Id, cancellationToken: Ct);

        Assert.Equal(RunStatus.Failed, result.Run.Status);
        Assert.Null(result.Checkpoint);
        Assert.Contains(name == "duplicate" ? "the same key" : "is invalid", result.Run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain('\0', result.Run.Error!);
        Assert.Equal(paid, _probe.Paid);
        Assert.Equal(before, await SnapshotAsync(includeRuns: false));

        // A retry fails the same way (the run is never left Running).
        var retried = await Runner.RetryAsync(plan.RunId, Ct);
        Assert.Equal(RunStatus.Failed, retried.Status);
        Assert.Equal(paid, _probe.Paid);
        Assert.Equal(before, await SnapshotAsync(includeRuns: false));
    }

    /// <summary>A budget below a plain phases estimate stops before paying and a raised budget lets the retry run.</summary>
    [Fact]
    public async Task A_budget_below_a_plain_phases_estimate_stops_before_paying_and_a_raised_budget_lets_the_retry_run()
    {
        _probe.PlanEstimate = 0.01m;

        var started = await Runner.StartAsync(Request(budget: 0.005m), Ct);

        Assert.Equal(RunStatus.Failed, started.Status);
        Assert.Null(started.Checkpoint);
        Assert.Equal(0, _probe.Paid);
        Assert.Contains("SetBudgetAsync", started.Run.Error, StringComparison.Ordinal);
        Assert.Empty(await Store.ListCheckpointsAsync(started.Run.Id, null, Ct));

        var raised = await Runner.SetBudgetAsync(started.Run.Id, 1m, Ct);
        Assert.Equal(1m, raised.Budget);
        Assert.Equal(1m, (await Store.GetRunAsync(started.Run.Id, Ct))!.Budget);

        var retried = await Runner.RetryAsync(started.Run.Id, Ct);
        Assert.Equal(RunStatus.Paused, retried.Status);
        Assert.Equal(0.01m, retried.Run.Cost);
        Assert.Equal(1, _probe.Paid);

        Assert.Null((await Runner.SetBudgetAsync(started.Run.Id, null, Ct)).Budget);
        await Assert.ThrowsAsync<RunNotFoundException>(() => Runner.SetBudgetAsync(Guid.NewGuid(), 1m, Ct));
        await AssertRefusedAsync<InvalidInputException>(() => Runner.SetBudgetAsync(started.Run.Id, -0.5m, Ct));
    }

    /// <summary>Runs are listed page by page without gaps or repeats also when they were created at the same instant.</summary>
    [Fact]
    public async Task Runs_are_listed_page_by_page_without_gaps_or_repeats_also_when_they_were_created_at_the_same_instant()
    {
        var frozen = new FrozenClock(new DateTimeOffset(2026, 5, 1, 12, 0, 0, TimeSpan.Zero));
        await using (var provider = BuildProvider(frozen))
        {
            var runner = provider.GetRequiredService<CheckpointRunner>();
            var queries = provider.GetRequiredService<CheckpointQueries>();
            for (var i = 0; i < 5; i++)
            {
                await runner.StartAsync(Request(owner: "pager"), Ct);
            }

            frozen.Advance(TimeSpan.FromSeconds(1));
            await runner.StartAsync(Request(owner: "pager"), Ct);
            await runner.StartAsync(Request(owner: "someone-else"), Ct);

            var all = await queries.ListRunsAsync("pager", 100, Ct);
            var paged = new List<Run>();
            var pages = 0;
            string? token = null;
            do
            {
                var page = await queries.ListRunsPageAsync("pager", 2, token, Ct);
                paged.AddRange(page.Runs);
                token = page.ContinuationToken;
                pages++;
                Assert.True(pages <= 3, "paging does not end");
            }
            while (token is not null);

            Assert.Equal(6, all.Count);
            Assert.Equal(3, pages);
            Assert.Equal(all.Select(r => r.Id), paged.Select(r => r.Id));
            Assert.Equal(all.Select(r => r.Id).Order(), paged.Select(r => r.Id).Distinct().Order());

            var zero = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => queries.ListRunsAsync("pager", 0, Ct));
            Assert.Contains("limit", zero.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => queries.ListRunsPageAsync("pager", -1, null, Ct));
            await Assert.ThrowsAsync<InvalidInputException>(() => queries.ListRunsPageAsync("pager", 2, "not-a-token", Ct));
        }
    }

    private sealed class Probe
    {
        private int _paid;

        public int Paid => Volatile.Read(ref _paid);

        public decimal PlanEstimate { get; set; }

        public Func<int, string> UnitKey { get; set; } = i => $"beat_{i}";

        public void Pay() => Interlocked.Increment(ref _paid);
    }

    private sealed class FrozenClock(DateTimeOffset now) : TimeProvider
    {
        private DateTimeOffset _now = now;

        public void Advance(TimeSpan by) => _now += by;

        public override DateTimeOffset GetUtcNow() => _now;
    }

    private sealed class PlanPhase(Probe probe) : Phase("plan")
    {
        public override IReadOnlyList<ArtifactSpec> Artifacts { get; } =
            [new ArtifactSpec("spec") { AllowedEdits = EditKinds.PatchJson, IsPhaseOutput = true }];

        public override decimal EstimateCost(PhaseContext context) => probe.PlanEstimate;

        public override Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken)
        {
            probe.Pay();
            var spec = JsonSerializer.SerializeToElement(new { units = context.Run.Input.GetProperty("units").GetInt32() });
            return Task.FromResult(new PhaseResult([new PhaseArtifact("spec", "spec", ArtifactContent.FromJson(spec))], spec, Cost: 0.01m));
        }
    }

    private sealed class ImagesPhase(Probe probe) : UnitPhase("images", new ArtifactSpec("beat_image") { AllowedEdits = EditKinds.RegenerateUnit })
    {
        public override string GetUnitKey(int unitIndex) => probe.UnitKey(unitIndex);

        public override async Task<int> CountUnitsAsync(PhaseContext context, CancellationToken cancellationToken) =>
            (await context.ReadJsonInputAsync<JsonElement>("spec", "spec", cancellationToken: cancellationToken)).GetProperty("units").GetInt32();

        public override async Task<UnitResult> GenerateUnitAsync(UnitContext context, CancellationToken cancellationToken)
        {
            probe.Pay();
            using var stream = new MemoryStream([.. "unit "u8, (byte)('0' + context.UnitIndex), .. Guid.NewGuid().ToByteArray()]);
            var blob = await context.PutBlobAsync(stream, MediaTypes.OctetStream, cancellationToken);
            return new UnitResult(ArtifactContent.FromBlob(blob), new ArtifactMetadata(Prompt: context.Overrides.Prompt ?? $"unit {context.UnitIndex}"), Cost: 0.05m);
        }
    }

    private sealed class FinalPhase() : Phase("final")
    {
        public override IReadOnlyList<ArtifactSpec> Artifacts { get; } = [new ArtifactSpec("final")];

        public override Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken) =>
            Task.FromResult(new PhaseResult([new PhaseArtifact("final", "final", ArtifactContent.FromJson(JsonSerializer.SerializeToElement(new { done = true })))]));
    }
}
