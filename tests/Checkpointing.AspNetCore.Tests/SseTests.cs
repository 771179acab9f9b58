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
    public async Task Reconnecting_with_Last_Event_ID_loses_nothing_and_repeats_nothing()
    {
        using var client = Host.Client("alice");
        var (runId, plan) = await ApiTests.StartAsync(client, beats: 3);
        var gate = new Gate();
        gate.Install(Host.Backend);
        string lastId;
        var seen = new List<string>();
        await using (var first = await SseClient.ConnectAsync(client, $"api/runs/{runId}/events"))
        {
            Assert.Equal("connected", (await first.NextAsync()).Event);
            _ = client.PostJsonAsync($"api/checkpoints/{plan}/continue");
            var started = await first.NextAsync();
            gate.Release();
            var unit1 = await first.NextAsync();
            seen.AddRange([started.Event!, unit1.Event!]);
            lastId = unit1.Id!;
        }

        // While nobody listens, the other units finish and the checkpoint is saved.
        gate.Release();
        gate.Release();
        await WaitForStatusAsync(client, runId, "paused");

        await using var second = await SseClient.ConnectAsync(client, $"api/runs/{runId}/events", lastId);
        Assert.Equal("connected", (await second.NextAsync()).Event);
        var rest = new List<SseFrame>();
        for (var i = 0; i < 4; i++)
        {
            rest.Add(await second.NextAsync());
        }

        Assert.Equal(["phase_started", "unit_completed"], seen);
        Assert.Equal(["unit_completed", "unit_completed", "checkpoint_created", "paused"], rest.Select(f => f.Event));
        Assert.Equal([2, 3], rest.Take(2).Select(f => JsonDocument.Parse(f.Data).RootElement.GetProperty("completed").GetInt32()));
        var ids = rest.Select(f => long.Parse(f.Id!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.True(ids[0] > long.Parse(lastId, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(ids.Order(), ids);
    }

    private static async Task WaitForStatusAsync(HttpClient client, Guid runId, string status)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while ((await (await client.GetAsync($"api/runs/{runId}", Http.Ct)).JsonAsync()).GetProperty("run").GetProperty("status").GetString() != status)
        {
            Assert.True(DateTime.UtcNow < until, $"run {runId} never became {status}");
            await Task.Delay(50, Http.Ct);
        }
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

        // One event line, one data line (a newline inside a JSON string stays escaped), the id (the event's sequence in
        // the store's log, for Last-Event-ID), then a blank line.
        var lines = edited.Raw.Split('\n');
        Assert.Equal("event: artifact_edited", lines[0]);
        Assert.StartsWith("data: {", lines[1], StringComparison.Ordinal);
        var data = JsonDocument.Parse(edited.Data).RootElement;
        Assert.Equal($"id: {data.GetProperty("sequence").GetInt64()}", lines[2]);
        Assert.Equal(["", ""], lines[3..]);
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
