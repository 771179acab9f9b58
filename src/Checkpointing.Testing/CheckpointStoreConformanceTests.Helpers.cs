using System.Text.Json;

namespace Checkpointing.Conformance;

/// <summary>
/// The behaviour every <see cref="ICheckpointStore"/> must have. A provider's test project derives from this class
/// and implements <see cref="StoreConformanceTests{TStore}.CreateStoreAsync"/>; xUnit creates one instance per test, so each test gets a fresh,
/// empty store.
/// </summary>
public abstract partial class CheckpointStoreConformanceTests : StoreConformanceTests<ICheckpointStore>
{
    /// <summary>A fixed point in time the tests count from.</summary>
    protected static readonly DateTimeOffset T0 = new(2026, 3, 14, 9, 26, 53, TimeSpan.Zero);

    private static readonly JsonSerializerOptions SnapshotOptions = new() { WriteIndented = false };

    /// <summary>Parses JSON text into a standalone element.</summary>
    protected static JsonElement Json(string text)
    {
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    /// <summary>A run of <paramref name="ownerId"/> created at <paramref name="createdAt"/> (default <see cref="T0"/>).</summary>
    protected static Run NewRun(string ownerId = "owner-1", DateTimeOffset? createdAt = null, decimal cost = 0m) =>
        new()
        {
            Id = Guid.NewGuid(),
            Pipeline = "video",
            OwnerId = ownerId,
            Input = Json("""{"prompt":"a red bicycle","seconds":12}"""),
            Status = RunStatus.Queued,
            Cost = cost,
            Budget = 25.5m,
            CreatedAt = createdAt ?? T0,
            UpdatedAt = createdAt ?? T0,
        };

    /// <summary>Creates a run in the store and returns it.</summary>
    protected async Task<Run> CreateRunAsync(string ownerId = "owner-1", DateTimeOffset? createdAt = null)
    {
        var run = NewRun(ownerId, createdAt);
        await Store.CreateRunAsync(run, Ct);
        return run;
    }

    /// <summary>An inline-JSON artifact.</summary>
    protected static NewArtifact JsonArtifact(string type, string key, string json, int? unitIndex = null, decimal cost = 0m) =>
        new(Guid.NewGuid(), type, key, ArtifactContent.FromJson(Json(json)), new ArtifactMetadata(Prompt: $"prompt for {key}", Cost: cost), unitIndex);

    /// <summary>An artifact that references a blob with a made-up hash derived from <paramref name="seed"/>.</summary>
    protected static NewArtifact BlobArtifact(string type, string key, string seed, int? unitIndex = null, decimal cost = 0m) =>
        new(Guid.NewGuid(), type, key, ArtifactContent.FromBlob(Blob(seed)),
            new ArtifactMetadata("a prompt", "flux-schnell", 42, "job-" + key, cost, Json("""{"steps":4}""")), unitIndex);

    /// <summary>A blob reference with a valid hash derived from <paramref name="seed"/>.</summary>
    protected static BlobReference Blob(string seed) =>
        new(BlobHash.Compute(System.Text.Encoding.UTF8.GetBytes(seed)), 1000 + seed.Length, MediaTypes.Png);

    /// <summary>A checkpoint to commit.</summary>
    protected static NewCheckpoint NewCheckpoint(
        Guid runId,
        string branch = BranchNames.Main,
        int phase = 1,
        IReadOnlyList<NewArtifact>? artifacts = null,
        Guid? parentId = null,
        decimal cost = 0m,
        decimal runCostDelta = 0m,
        string? executionKey = null,
        DateTimeOffset? createdAt = null,
        long? parentRevision = null) => new()
    {
        Id = Guid.NewGuid(),
        RunId = runId,
        Branch = branch,
        Phase = phase,
        ParentId = parentId,
        ParentRevision = parentId is null ? null : parentRevision ?? 0,
        Output = Json("""{"beats":3,"title":"Test"}"""),
        Cost = cost,
        CreatedBy = "user-7",
        EditDescription = "first try",
        Artifacts = artifacts ?? [JsonArtifact("spec", "spec", """{"beats":[1,2,3]}""")],
        ExecutionKey = executionKey,
        RunCostDelta = runCostDelta,
        CreatedAt = createdAt ?? T0.AddMinutes(1),
    };

    /// <summary>Creates a run and commits one phase-1 checkpoint holding a <c>spec/spec</c> JSON artifact.</summary>
    protected async Task<(Run Run, Checkpoint Checkpoint)> CreateRunWithCheckpointAsync(decimal cost = 0m)
    {
        var run = await CreateRunAsync();
        var checkpoint = await Store.CommitCheckpointAsync(NewCheckpoint(run.Id, cost: cost), Ct);
        return (run, checkpoint);
    }

    /// <summary>An update of <c>spec/spec</c>.</summary>
    protected static ArtifactUpdate SpecUpdate(Guid checkpointId, int expectedVersion, string json, decimal costDelta = 0m, JsonElement? newOutput = null, string type = "spec", string key = "spec") =>
        new()
        {
            CheckpointId = checkpointId,
            Type = type,
            Key = key,
            ExpectedVersion = expectedVersion,
            Content = ArtifactContent.FromJson(Json(json)),
            Metadata = new ArtifactMetadata(Prompt: "edited"),
            UpdatedBy = "editor-1",
            Reason = "patch",
            CostDelta = costDelta,
            NewCheckpointOutput = newOutput,
            At = T0.AddHours(1).AddSeconds(expectedVersion),
        };

    /// <summary>
    /// Everything the store holds about a run, as one JSON string: run, branches, checkpoints, their artifacts and
    /// every artifact's history, plus the journal of the given execution keys. Equal snapshots mean nothing changed.
    /// </summary>
    protected async Task<string> SnapshotAsync(Guid runId, params string[] executionKeys)
    {
        var checkpoints = await Store.ListCheckpointsAsync(runId, null, Ct);
        var artifacts = new List<object>();
        foreach (var checkpoint in checkpoints)
        {
            foreach (var artifact in await Store.GetArtifactsAsync(checkpoint.Id, Ct))
            {
                artifacts.Add(new { artifact, history = await Store.GetArtifactHistoryAsync(artifact.Id, Ct) });
            }
        }

        var journal = new List<object>();
        foreach (var key in executionKeys)
        {
            journal.Add(new { key, units = await Store.GetUnitsAsync(runId, key, Ct) });
        }

        return JsonSerializer.Serialize(new
        {
            run = await Store.GetRunAsync(runId, Ct),
            branches = await Store.ListBranchesAsync(runId, Ct),
            checkpoints,
            artifacts,
            journal,
        }, SnapshotOptions);
    }

    /// <summary>Collects an async sequence.</summary>
    protected static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> source)
    {
        var list = new List<T>();
        await foreach (var item in source.WithCancellation(Ct))
        {
            list.Add(item);
        }

        return list;
    }

    /// <summary>Asserts two JSON values are equal by value.</summary>
    protected static void AssertJson(string expected, JsonElement? actual)
    {
        Assert.NotNull(actual);
        Assert.True(JsonElement.DeepEquals(Json(expected), actual.Value), $"Expected JSON {expected} but got {actual.Value.GetRawText()}.");
    }
}
