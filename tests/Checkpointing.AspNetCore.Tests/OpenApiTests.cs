using System.Text.Json;
using Checkpointing.AspNetCore.Tests.Support;

namespace Checkpointing.AspNetCore.Tests;

public sealed class OpenApiTests : IAsyncLifetime
{
    private ApiHost? _host;

    public async ValueTask InitializeAsync() => _host = await ApiHost.StartAsync(StoreKind.Sqlite);

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_document_is_served_and_lists_every_endpoint()
    {
        using var client = _host!.Client(null);
        var document = await (await client.GetAsync("openapi/v1.json", Http.Ct)).JsonAsync();
        var operations = document.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(op => (Path: path.Name, Method: op.Name.ToUpperInvariant(), Id: op.Value.TryGetProperty("operationId", out var id) ? id.GetString() : null, Op: op.Value)))
            .ToList();
        string[] expected =
        [
            "GET /api/runs ListRuns", "POST /api/runs StartRun", "GET /api/runs/{runId} GetRunStatus", "GET /api/runs/{runId}/checkpoints ListCheckpoints",
            "GET /api/runs/{runId}/checkpoints/current GetCurrentCheckpoint", "GET /api/runs/{runId}/branches ListBranches", "GET /api/runs/{runId}/tree GetCheckpointTree",
            "GET /api/runs/{runId}/events WatchRun", "POST /api/runs/{runId}/retry RetryRun", "POST /api/runs/{runId}/cancel CancelRun",
            "GET /api/checkpoints/{checkpointId} GetCheckpoint", "POST /api/checkpoints/{checkpointId}/continue ContinueCheckpoint",
            "POST /api/checkpoints/{checkpointId}/units/{unitIndex}/regenerate RegenerateUnit",
            "GET /api/checkpoints/{checkpointId}/artifacts/{type}/{key} GetArtifact", "PATCH /api/checkpoints/{checkpointId}/artifacts/{type}/{key} PatchArtifact",
            "PUT /api/checkpoints/{checkpointId}/artifacts/{type}/{key}/content UploadArtifactContent",
            "GET /api/checkpoints/{checkpointId}/artifacts/{type}/{key}/content GetArtifactContent",
            "GET /api/checkpoints/{checkpointId}/artifacts/{type}/{key}/versions GetArtifactHistory",
            "GET /api/checkpoints/{checkpointId}/artifacts/{type}/{key}/versions/{version}/content GetArtifactVersionContent",
        ];
        Assert.Equal(expected.Order(), operations.Select(o => $"{o.Method} {o.Path} {o.Id}").Order());

        // Problem responses are documented, and the SSE stream is typed as an event stream.
        var patch = operations.Single(o => o.Id == "PatchArtifact").Op;
        Assert.True(patch.GetProperty("responses").TryGetProperty("412", out _));
        Assert.True(patch.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/merge-patch+json", out _));
        var watch = operations.Single(o => o.Id == "WatchRun").Op;
        Assert.True(watch.GetProperty("responses").GetProperty("200").GetProperty("content").TryGetProperty("text/event-stream", out _), watch.ToString());
        Assert.DoesNotContain(document.GetProperty("paths").EnumerateObject(), p => p.Name.StartsWith("/review", StringComparison.Ordinal));
    }
}
