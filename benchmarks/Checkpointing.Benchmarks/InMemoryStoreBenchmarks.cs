using System.Text.Json;
using BenchmarkDotNet.Attributes;

namespace Checkpointing.Benchmarks;

/// <summary>Committing a checkpoint of N artifacts and editing one, against plain dictionary inserts of the same records.</summary>
[ShortJob]
public class InMemoryStoreBenchmarks
{
    private InMemoryCheckpointStore _store = null!;
    private Run _run = null!;
    private NewArtifact[] _artifacts = [];
    private Guid _checkpointId;
    private int _version;

    [Params(8, 64)]
    public int Artifacts { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        _store = new InMemoryCheckpointStore();
        var now = DateTimeOffset.UtcNow;
        _run = new Run
        {
            Id = Guid.NewGuid(),
            Pipeline = "video",
            OwnerId = "bench",
            Input = JsonSerializer.SerializeToElement(new { }),
            Status = RunStatus.Queued,
            CreatedAt = now,
            UpdatedAt = now,
        };
        await _store.CreateRunAsync(_run);
        _artifacts = Enumerable.Range(1, Artifacts)
            .Select(i => new NewArtifact(Guid.Empty, "beat_image", $"beat_{i}", ArtifactContent.FromBlob(new BlobReference(new string('a', 64), 1000, MediaTypes.Png)), ArtifactMetadata.Empty, i))
            .ToArray();
        var checkpoint = await CommitCheckpoint();
        _checkpointId = checkpoint.Id;
        _version = 1;
    }

    [Benchmark(Baseline = true)]
    public Dictionary<Guid, NewArtifact> RawDictionaryInserts()
    {
        var dictionary = new Dictionary<Guid, NewArtifact>();
        foreach (var a in _artifacts)
        {
            var copy = a with { Id = Guid.NewGuid() };
            dictionary[copy.Id] = copy;
        }

        return dictionary;
    }

    [Benchmark]
    public Task<Checkpoint> CommitCheckpoint() =>
        _store.CommitCheckpointAsync(new NewCheckpoint
        {
            Id = Guid.NewGuid(),
            RunId = _run.Id,
            Branch = BranchNames.Main,
            Phase = 2,
            Artifacts = _artifacts.Select(a => a with { Id = Guid.NewGuid() }).ToList(),
            CreatedAt = DateTimeOffset.UtcNow,
        });

    [Benchmark]
    public Task<Artifact> EditArtifact() =>
        _store.UpdateArtifactAsync(new ArtifactUpdate
        {
            CheckpointId = _checkpointId,
            Type = "beat_image",
            Key = "beat_1",
            ExpectedVersion = _version++,
            Content = ArtifactContent.FromBlob(new BlobReference(new string('b', 64), 1000, MediaTypes.Png)),
            Metadata = ArtifactMetadata.Empty,
            UpdatedBy = "bench",
            At = DateTimeOffset.UtcNow,
        });
}
