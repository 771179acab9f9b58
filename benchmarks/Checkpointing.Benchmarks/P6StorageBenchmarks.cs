using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;

namespace Checkpointing.Benchmarks;

/// <summary>
/// P6: bytes stored. A storyboard of 16 one-MB images, then 10 forks, each after regenerating one image (so each fork
/// holds 15 shared images and one new one), and a phase on every fork that stores its 16 input images again as its own
/// artifacts (identical content). The unique bytes are 26 MB; the column <c>Stored/unique</c> reports what the
/// file-system blob store holds divided by that (target ≤ 1.1×). The baseline writes the 26 unique images as plain files.
/// </summary>
[SingleInvocationJob(1)]
public class P6StorageBenchmarks
{
    private const int Images = 16;
    private const int Forks = 10;
    private const int ImageSize = 1024 * 1024;
    private const long UniqueBytes = (long)(Images + Forks) * ImageSize;

    [Params(StoreKind.Sqlite)]
    public StoreKind Store { get; set; }

    [Benchmark(Baseline = true)]
    public async Task<long> RawUniqueFiles()
    {
        var folder = Env.TempFolder("raw-images");
        try
        {
            for (var i = 0; i < Images + Forks; i++)
            {
                await File.WriteAllBytesAsync(Path.Combine(folder, i.ToString(CultureInfo.InvariantCulture)), RandomNumberGenerator.GetBytes(ImageSize));
            }

            var stored = BytesUnder(folder);
            MetricColumn.Report("Stored/unique", nameof(RawUniqueFiles), Ratio(stored));
            return stored;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Benchmark]
    public async Task<long> TenForks()
    {
        var blobs = Env.TempFolder("blobs");
        var handle = StoreHandle.Create(Store);
        try
        {
            await using (var services = Fixtures.Services(handle, b => b.AddPipeline("forks", p => p
                .AddPhase(new Plan()).AddPhase(new Storyboard()).AddPhase(new Restore()).AddPhase(new Plan("end"))), blobs))
            {
                var runner = services.GetRequiredService<CheckpointRunner>();
                var editor = services.GetRequiredService<CheckpointEditor>();
                var plan = (await runner.StartAsync(new StartRunRequest("forks", "bench", Fixtures.EmptyInput))).Checkpoint!;
                var storyboard = (await runner.ContinueAsync(plan.Id)).Checkpoint!;
                for (var fork = 1; fork <= Forks; fork++)
                {
                    await editor.RegenerateUnitAsync(storyboard.Id, fork);
                    var result = await runner.ContinueAsync(storyboard.Id);
                    if (!result.BranchCreated || result.Checkpoint is null)
                    {
                        throw new InvalidOperationException($"fork {fork} did not create a branch: {result.Run.Error}");
                    }
                }
            }

            var stored = BytesUnder(blobs);
            MetricColumn.Report("Stored/unique", nameof(TenForks), Ratio(stored));
            return stored;
        }
        finally
        {
            await handle.DisposeAsync();
            Directory.Delete(blobs, recursive: true);
        }
    }

    private static string Ratio(long stored) => string.Create(CultureInfo.InvariantCulture, $"{(double)stored / UniqueBytes:0.0000}× ({stored:N0} B)");

    private static long BytesUnder(string folder) => new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);

    private sealed class Plan(string name = "plan") : Phase(name)
    {
        public override IReadOnlyList<ArtifactSpec> Artifacts => [new ArtifactSpec(Name)];

        public override Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken) =>
            Task.FromResult(new PhaseResult([new PhaseArtifact(Name, "spec", ArtifactContent.FromJson(JsonSerializer.SerializeToElement(new { beats = Images })))]));
    }

    /// <summary>16 units, each a new one-MB image (random bytes: every generation is unique content).</summary>
    private sealed class Storyboard() : UnitPhase("storyboard", new ArtifactSpec("image") { AllowedEdits = EditKinds.RegenerateUnit })
    {
        public override string GetUnitKey(int unitIndex) => $"image_{unitIndex}";

        public override Task<int> CountUnitsAsync(PhaseContext context, CancellationToken cancellationToken) => Task.FromResult(Images);

        public override async Task<UnitResult> GenerateUnitAsync(UnitContext context, CancellationToken cancellationToken)
        {
            using var image = new MemoryStream(RandomNumberGenerator.GetBytes(ImageSize), writable: false);
            return new UnitResult(ArtifactContent.FromBlob(await context.PutBlobAsync(image, MediaTypes.OctetStream, cancellationToken)));
        }
    }

    /// <summary>Stores each of its 16 input images again (identical bytes) as its own artifact.</summary>
    private sealed class Restore() : Phase("restore")
    {
        public override IReadOnlyList<ArtifactSpec> Artifacts { get; } = [new ArtifactSpec("copy")];

        public override async Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken)
        {
            var artifacts = new List<PhaseArtifact>();
            foreach (var pin in await context.GetInputPinsAsync("image", cancellationToken))
            {
                var (stream, _) = await context.OpenAsync(pin, cancellationToken);
                await using (stream)
                {
                    using var copy = new MemoryStream();
                    await stream.CopyToAsync(copy, cancellationToken);
                    copy.Position = 0;
                    artifacts.Add(new PhaseArtifact("copy", pin.Key, ArtifactContent.FromBlob(await context.PutBlobAsync(copy, MediaTypes.OctetStream, cancellationToken))));
                }
            }

            return new PhaseResult(artifacts);
        }
    }
}
