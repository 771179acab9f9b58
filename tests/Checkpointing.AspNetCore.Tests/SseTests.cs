using System.Text.Json;
using Checkpointing.AspNetCore.Tests.Support;

namespace Checkpointing.AspNetCore.Tests;

/// <summary>The status stream while a phase runs, on one store; derived once per store.</summary>
public abstract class SseTests(StoreKind kind) : IAsyncLifetime
{
    private ApiHost? _host;

    private ApiHost Host => _host!;

    public async ValueTask InitializeAsync() => _host = await ApiHost.StartAsync(kind);

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>Holds every storyboard unit until the test releases it, one at a time.</summary>
    private sealed class Gate
    {
        private readonly SemaphoreSlim _release = new(0);

        public void Install(FakeBackend backend) =>
            backend.BeforeComplete = async (request, ct) =>
            {
                if (request.Model.StartsWith("image", StringComparison.Ordinal))
                {
                    await _release.WaitAsync(ct);
                }
            };

        public void Release() => _release.Release();
    }

    [Fact]
    public async Task A_client_receives_the_unit_progress_and_checkpoint_events_of_a_running_phase_in_order()
    {
        using var client = Host.Client("alice");
        var (runId, plan) = await ApiTests.StartAsync(client, beats: 3);
        var gate = new Gate();
        gate.Install(Host.Backend);
        await using var sse = await SseClient.ConnectAsync(client, $"api/runs/{runId}/events");
        Assert.Equal("text/event-stream", sse.Response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("connected", (await sse.NextAsync()).Event);

        var continued = client.PostJsonAsync($"api/checkpoints/{plan}/continue");
        var started = await sse.NextAsync();
        Assert.Equal("phase_started", started.Event);
        var phase = JsonDocument.Parse(started.Data).RootElement;
        Assert.Equal(2, phase.GetProperty("phase").GetInt32());
        Assert.Equal("storyboard", phase.GetProperty("phaseName").GetString());
        for (var unit = 1; unit <= 3; unit++)
        {
            gate.Release();
            var frame = await sse.NextAsync();
            Assert.Equal("unit_completed", frame.Event);
            var data = JsonDocument.Parse(frame.Data).RootElement;
            Assert.Equal(unit, data.GetProperty("completed").GetInt32());
            Assert.Equal(3, data.GetProperty("total").GetInt32());
            Assert.Equal(runId, data.GetProperty("runId").GetGuid());
        }

        var created = await sse.NextAsync();
        Assert.Equal("checkpoint_created", created.Event);
        var checkpoint = JsonDocument.Parse(created.Data).RootElement.GetProperty("checkpointId").GetGuid();
        var paused = await sse.NextAsync();
        Assert.Equal("paused", paused.Event);
        Assert.Equal(checkpoint, JsonDocument.Parse(paused.Data).RootElement.GetProperty("checkpointId").GetGuid());
        var result = await (await continued).JsonAsync();
        Assert.Equal(checkpoint, result.GetProperty("checkpoint").GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task Each_item_is_serialized_as_one_event_with_its_kind_and_camel_case_json_data()
    {
        using var client = Host.Client("alice");
        var (runId, plan) = await ApiTests.StartAsync(client, beats: 1);
        await using var sse = await SseClient.ConnectAsync(client, $"api/runs/{runId}/events");
        var connected = await sse.NextAsync();
        Assert.Equal($"event: connected\ndata: {{\"kind\":\"connected\",\"runId\":\"{runId}\",\"at\":", connected.Raw[..(connected.Raw.IndexOf("\"at\":", StringComparison.Ordinal) + 5)]);

        var edit = await client.PatchAsync($"api/checkpoints/{plan}/artifacts/spec/spec", JsonSerializer.Serialize(ReviewPipeline.DefaultSpec(1) with { Template = "line one\nline two" }));
        await edit.JsonAsync();
        var edited = await sse.NextAsync();

        // One event line, one data line (a newline inside a JSON string stays escaped), then a blank line.
        var lines = edited.Raw.Split('\n');
        Assert.Equal("event: artifact_edited", lines[0]);
        Assert.StartsWith("data: {", lines[1], StringComparison.Ordinal);
        Assert.Equal(["", ""], lines[2..]);
        var data = JsonDocument.Parse(edited.Data).RootElement;
        Assert.Equal("artifact_edited", data.GetProperty("kind").GetString());
        Assert.Equal(plan, data.GetProperty("checkpointId").GetGuid());
        Assert.Equal("spec", data.GetProperty("type").GetString());
        Assert.Equal(2, data.GetProperty("version").GetInt32());
        Assert.Equal("patch_json", data.GetProperty("editKind").GetString());
        Assert.False(data.TryGetProperty("error", out _), "fields that do not apply are left out");
        Assert.False(data.TryGetProperty("$type", out _));
    }
}

public sealed class SqliteSseTests() : SseTests(StoreKind.Sqlite);

public sealed class PostgresSseTests() : SseTests(StoreKind.Postgres);
