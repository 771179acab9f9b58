using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Checkpointing.Internal;
using Checkpointing.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Checkpointing.Tests;

public class MediaTypeTests
{
    public static TheoryData<byte[], string?> Samples => new()
    {
        { [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13], MediaTypes.Png },
        { [0xFF, 0xD8, 0xFF, 0xE0, 0, 16, (byte)'J', (byte)'F', (byte)'I', (byte)'F'], MediaTypes.Jpeg },
        { [.. "RIFF"u8.ToArray(), 1, 2, 3, 4, .. "WEBPVP8 "u8.ToArray()], MediaTypes.WebP },
        { [0, 0, 0, 32, .. "ftypisom"u8.ToArray(), 0, 0, 2, 0], MediaTypes.Mp4 },
        { [.. "GIF89a"u8.ToArray(), 1, 0, 1, 0], MediaTypes.Gif },
        { "<!DOCTYPE html><html>"u8.ToArray(), null },
        { "{\"json\": true}"u8.ToArray(), null },
        { [], null },
        { [0x89, (byte)'P', (byte)'N'], null },
    };

    [Theory]
    [MemberData(nameof(Samples))]
    public void Detects_media_types_from_magic_bytes(byte[] header, string? expected) => Assert.Equal(expected, MediaTypes.Detect(header));
}

public class JsonMergePatchTests
{
    // The examples of RFC 7396, appendix A.
    [Theory]
    [InlineData("""{"a":"b"}""", """{"a":"c"}""", """{"a":"c"}""")]
    [InlineData("""{"a":"b"}""", """{"b":"c"}""", """{"a":"b","b":"c"}""")]
    [InlineData("""{"a":"b"}""", """{"a":null}""", """{}""")]
    [InlineData("""{"a":"b","b":"c"}""", """{"a":null}""", """{"b":"c"}""")]
    [InlineData("""{"a":["b"]}""", """{"a":"c"}""", """{"a":"c"}""")]
    [InlineData("""{"a":"c"}""", """{"a":["b"]}""", """{"a":["b"]}""")]
    [InlineData("""{"a":{"b":"c"}}""", """{"a":{"b":"d","c":null}}""", """{"a":{"b":"d"}}""")]
    [InlineData("""{"a":[{"b":"c"}]}""", """{"a":[1]}""", """{"a":[1]}""")]
    [InlineData("""["a","b"]""", """["c","d"]""", """["c","d"]""")]
    [InlineData("""{"a":"b"}""", """["c"]""", """["c"]""")]
    [InlineData("""{"a":"foo"}""", "null", "null")]
    [InlineData("""{"a":"foo"}""", "\"bar\"", "\"bar\"")]
    [InlineData("""{"e":null}""", """{"a":1}""", """{"e":null,"a":1}""")]
    [InlineData("""[1,2]""", """{"a":"b","c":null}""", """{"a":"b"}""")]
    [InlineData("""{}""", """{"a":{"bb":{"ccc":null}}}""", """{"a":{"bb":{}}}""")]
    public void Applies_rfc_7396(string target, string patch, string expected)
    {
        var result = JsonMergePatch.Apply(JsonNode.Parse(target), JsonNode.Parse(patch));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), result), $"got {result?.ToJsonString() ?? "null"}");
    }
}

public class DependencyInjectionTests
{
    [Fact]
    public void Invalid_options_fail_at_start_with_every_error_named()
    {
        var services = new ServiceCollection();
        services.AddCheckpointing(b => b.AddPipeline("p", p => p.AddPhase(new NoopPhase())), o =>
        {
            o.MaxEditAttempts = 0;
            o.ReadUrlLifetime = TimeSpan.Zero;
        });
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<CheckpointRunner>());

        Assert.Contains("CheckpointingOptions.MaxEditAttempts is 0; set it to 1 or more.", error.Failures);
        Assert.Contains("CheckpointingOptions.ReadUrlLifetime is 00:00:00; set it between 00:00:01 and 7.00:00:00.", error.Failures);
    }

    [Fact]
    public void Input_limits_are_validated_at_start()
    {
        var services = new ServiceCollection();
        services.AddCheckpointing(b => b.AddPipeline("p", p => p.AddPhase(new NoopPhase())), o =>
        {
            o.MaxInlineJsonBytes = 0;
            o.MaxTextLength = -1;
            o.MaxIdentityLength = 100_000;
        });
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<CheckpointRunner>());

        Assert.Contains("CheckpointingOptions.MaxInlineJsonBytes is 0; set it between 1024 and 67108864.", error.Failures);
        Assert.Contains("CheckpointingOptions.MaxTextLength is -1; set it between 16 and 1048576.", error.Failures);
        Assert.Contains("CheckpointingOptions.MaxIdentityLength is 100000; set it between 1 and 512.", error.Failures);
    }

    [Fact]
    public void Input_limits_have_documented_defaults()
    {
        var options = new CheckpointingOptions();

        Assert.Equal((1024 * 1024, 16 * 1024, 256), (options.MaxInlineJsonBytes, options.MaxTextLength, options.MaxIdentityLength));
    }

    [Fact]
    public void Defaults_are_documented_values()
    {
        var options = new CheckpointingOptions();
        Assert.Equal((TimeSpan.FromMinutes(15), 100, 4), (options.ReadUrlLifetime, options.MaxEditAttempts, options.DefaultMaxConcurrency));
    }

    [Fact]
    public void AddCheckpointing_twice_registers_the_services_once_and_providers_replace_defaults()
    {
        var services = new ServiceCollection();
        var store = new InMemoryCheckpointStore();
        services.AddCheckpointing().UseStore(_ => store);
        services.AddCheckpointing(b => b.AddPipeline("p", p => p.AddPhase(new NoopPhase())));
        using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });

        Assert.Single(services, d => d.ServiceType == typeof(CheckpointRunner));
        Assert.Same(store, provider.GetRequiredService<ICheckpointStore>());
    }

    [Fact]
    public async Task Unknown_pipeline_names_the_registered_ones()
    {
        await using var host = new TestHost();
        var error = await Assert.ThrowsAsync<PipelineNotFoundException>(() =>
            host.Runner.StartAsync(new StartRunRequest("vidoe", "u", JsonSerializer.SerializeToElement(new { })), TestContext.Current.CancellationToken));
        Assert.Contains("'video'", error.Message, StringComparison.Ordinal);
        Assert.Empty(await host.Store.ListRunsAsync(cancellationToken: TestContext.Current.CancellationToken));
    }

    private sealed class NoopPhase() : Phase("noop")
    {
        public override IReadOnlyList<ArtifactSpec> Artifacts => [];

        public override Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken) => Task.FromResult(new PhaseResult([]));
    }
}

public class TelemetryTests
{
    [Fact]
    public async Task Phases_are_traced_and_counted()
    {
        var activities = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == CheckpointingTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => { lock (activities) { activities.Add(a); } },
        };
        ActivitySource.AddActivityListener(listener);
        long checkpoints = 0;
        using var meters = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == CheckpointingTelemetry.Name)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        meters.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name == "checkpointing.checkpoints.created")
            {
                Interlocked.Add(ref checkpoints, value);
            }
        });
        meters.Start();

        await using var host = new TestHost();
        var result = await host.StartAsync(autoContinue: true);

        lock (activities)
        {
            var mine = activities.Where(a => Equals(a.GetTagItem("checkpointing.run.id"), result.Run.Id)).ToList();
            Assert.Equal(["phase plan", "phase storyboard", "phase chunks", "phase assemble"], mine.Select(a => a.DisplayName));
        }

        Assert.True(Interlocked.Read(ref checkpoints) >= 4);
    }
}

public class BlobGarbageCollectorTests
{
    [Fact]
    public async Task Deletes_only_unreferenced_blobs_older_than_the_grace_period()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var host = new TestHost();
        var result = await host.StartAsync(autoContinue: true);
        var referenced = new HashSet<string>();
        await foreach (var hash in host.Store.ListReferencedBlobsAsync(ct))
        {
            referenced.Add(hash);
        }

        var orphan = await host.Blobs.PutAsync(new MemoryStream(FakeBackend.Png("orphan")), MediaTypes.Png, ct);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var collector = new BlobGarbageCollector(host.Store, host.Blobs, time);

        Assert.Empty(await collector.CollectAsync(TimeSpan.FromHours(1), ct));
        Assert.True(await host.Blobs.ExistsAsync(orphan.Hash, ct));

        time.Advance(TimeSpan.FromHours(2));
        var deleted = await collector.CollectAsync(TimeSpan.FromHours(1), ct);

        Assert.Equal([orphan.Hash], deleted);
        Assert.False(await host.Blobs.ExistsAsync(orphan.Hash, ct));
        Assert.All(referenced, h => Assert.True(host.Blobs.ExistsAsync(h, ct).Result));
        Assert.Equal(RunStatus.Completed, result.Status);
    }

    [Fact]
    public async Task Uploading_content_again_restarts_its_grace_period()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var host = new TestHost();
        var blob = await host.Blobs.PutAsync(new MemoryStream(FakeBackend.Png("again")), MediaTypes.Png, ct);
        var path = Directory.EnumerateFiles(host.BlobRoot, blob.Hash, SearchOption.AllDirectories).Single();
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddHours(-2));

        // The same bytes arrive again, for metadata about to be committed.
        await host.Blobs.PutAsync(new MemoryStream(FakeBackend.Png("again")), MediaTypes.Png, ct);

        Assert.Empty(await new BlobGarbageCollector(host.Store, host.Blobs).CollectAsync(TimeSpan.FromHours(1), ct));
        Assert.True(await host.Blobs.ExistsAsync(blob.Hash, ct));
    }
}

public class PrefixedStreamTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4096)]
    public async Task Reads_the_prefix_then_the_rest_byte_exact_and_leaves_the_rest_open(int bufferSize)
    {
        var all = Enumerable.Range(0, 1000).Select(i => (byte)i).ToArray();
        using var rest = new MemoryStream(all[10..]);
        var stream = new PrefixedStream(all.AsMemory(0, 10), rest);
        using var copy = new MemoryStream();

        var buffer = new byte[bufferSize];
        int read;
        while ((read = await stream.ReadAsync(buffer.AsMemory(), TestContext.Current.CancellationToken)) > 0)
        {
            copy.Write(buffer, 0, read);
        }

        await stream.DisposeAsync();
        Assert.Equal(all, copy.ToArray());
        Assert.Equal(1000, stream.Position);
        Assert.True(rest.CanRead);
    }
}
