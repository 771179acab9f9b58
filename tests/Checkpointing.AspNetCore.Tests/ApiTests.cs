using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Checkpointing.AspNetCore.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using P = Checkpointing.AspNetCore.CheckpointingProblemTypes;

namespace Checkpointing.AspNetCore.Tests;

/// <summary>Every endpoint and every error, through Kestrel, on one store; derived once per store.</summary>
public abstract class ApiTests(StoreKind kind) : IAsyncLifetime
{
    private ApiHost? _host;

    protected ApiHost Host => _host ?? throw new InvalidOperationException("Not started.");

    public async ValueTask InitializeAsync() => _host = await ApiHost.StartAsync(kind, o => o.MaxEditAttempts = 1);

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    internal static async Task<(Guid Run, Guid Plan)> StartAsync(HttpClient client, int beats = 3)
    {
        var created = await client.PostJsonAsync("api/runs", new { pipeline = ReviewPipeline.Name, input = new { beats } });
        var run = await created.JsonAsync(HttpStatusCode.Created);
        var runId = run.GetProperty("id").GetGuid();
        Assert.Equal($"/api/runs/{runId}", created.Headers.Location?.OriginalString);
        Assert.Equal("paused", run.GetProperty("status").GetString());
        var current = await (await client.GetAsync($"api/runs/{runId}/checkpoints/current", Http.Ct)).JsonAsync();
        return (runId, current.GetProperty("id").GetGuid());
    }

    private static string Art(Guid checkpoint, string type, string key) => $"api/checkpoints/{checkpoint}/artifacts/{type}/{key}";

    [Fact]
    public async Task Every_endpoint_answers_for_the_runs_owner()
    {
        using var client = Host.Client("alice");
        var (runId, plan) = await StartAsync(client);

        // Lists and views of the run.
        var runs = await (await client.GetAsync("api/runs", Http.Ct)).JsonAsync();
        Assert.Equal([runId], runs.EnumerateArray().Select(r => r.GetProperty("id").GetGuid()));
        var status = await (await client.GetAsync($"api/runs/{runId}", Http.Ct)).JsonAsync();
        Assert.Equal(plan, status.GetProperty("current").GetProperty("id").GetGuid());
        Assert.Equal("main", status.GetProperty("branches")[0].GetProperty("name").GetString());
        Assert.True(status.GetProperty("branches")[0].GetProperty("canContinue").GetBoolean());
        var checkpoints = await (await client.GetAsync($"api/runs/{runId}/checkpoints?branch=main", Http.Ct)).JsonAsync();
        Assert.Equal([plan], checkpoints.EnumerateArray().Select(c => c.GetProperty("id").GetGuid()));
        Assert.Equal(0, (await (await client.GetAsync($"api/runs/{runId}/checkpoints?branch=main-9", Http.Ct)).JsonAsync()).GetArrayLength());
        var tree = await (await client.GetAsync($"api/runs/{runId}/tree", Http.Ct)).JsonAsync();
        Assert.Equal(plan, tree[0].GetProperty("checkpoint").GetProperty("id").GetGuid());

        // The checkpoint, its spec with an ETag, a merge patch guarded by If-Match, the history and each version's content.
        var details = await (await client.GetAsync($"api/checkpoints/{plan}", Http.Ct)).JsonAsync();
        var spec = details.GetProperty("artifacts")[0];
        Assert.Equal("\"v1\"", spec.GetProperty("eTag").GetString());
        Assert.Equal($"/{Art(plan, "spec", "spec")}/content", spec.GetProperty("contentUrl").GetString());
        var artifact = await client.GetAsync(Art(plan, "spec", "spec"), Http.Ct);
        Assert.Equal("\"v1\"", artifact.Headers.ETag?.ToString());
        var specJson = JsonSerializer.Serialize(ReviewPipeline.DefaultSpec(2));
        var patched = await client.PatchAsync(Art(plan, "spec", "spec"), specJson, "\"v1\"");
        var edit = await patched.JsonAsync();
        Assert.Equal("\"v2\"", patched.Headers.ETag?.ToString());
        Assert.Equal(2, edit.GetProperty("artifact").GetProperty("version").GetInt32());
        Assert.Equal("alice", edit.GetProperty("artifact").GetProperty("updatedBy").GetString());
        var history = await (await client.GetAsync($"{Art(plan, "spec", "spec")}/versions", Http.Ct)).JsonAsync();
        Assert.Equal([1, 2], history.EnumerateArray().Select(v => v.GetProperty("version").GetInt32()));
        var v1 = await (await client.GetAsync($"{Art(plan, "spec", "spec")}/versions/1/content", Http.Ct)).JsonAsync();
        var v2 = await (await client.GetAsync(history[1].GetProperty("contentUrl").GetString()!.TrimStart('/'), Http.Ct)).JsonAsync();
        Assert.Equal(3, v1.GetProperty("beats").GetArrayLength());
        Assert.Equal(2, v2.GetProperty("beats").GetArrayLength());

        // Continue the edited plan: a new branch, the storyboard inline (200).
        var continued = await (await client.PostJsonAsync($"api/checkpoints/{plan}/continue", new { description = "two beats" })).JsonAsync();
        Assert.Equal("main-1", continued.GetProperty("branch").GetString());
        Assert.True(continued.GetProperty("branchCreated").GetBoolean());
        Assert.False(continued.GetProperty("queued").GetBoolean());
        var storyboard = continued.GetProperty("checkpoint").GetProperty("id").GetGuid();
        Assert.Equal("two beats", continued.GetProperty("checkpoint").GetProperty("editDescription").GetString());

        // Upload an image (multipart), read it back whole and by range.
        var image = Http.Png("uploaded by alice");
        var uploaded = await (await client.UploadAsync($"{Art(storyboard, "beat_image", "beat_1")}/content", new MemoryStream(image), "\"v1\"")).JsonAsync();
        Assert.Equal(2, uploaded.GetProperty("artifact").GetProperty("version").GetInt32());
        Assert.Equal("image/png", uploaded.GetProperty("artifact").GetProperty("content").GetProperty("blob").GetProperty("mediaType").GetString());
        var content = await client.GetAsync($"{Art(storyboard, "beat_image", "beat_1")}/content", Http.Ct);
        Assert.Equal(HttpStatusCode.OK, content.StatusCode);
        Assert.Equal("image/png", content.Content.Headers.ContentType?.MediaType);
        Assert.Equal(image, await content.Content.ReadAsByteArrayAsync(Http.Ct));
        Assert.Equal("bytes", content.Headers.AcceptRanges.Single());
        var ranged = new HttpRequestMessage(HttpMethod.Get, $"{Art(storyboard, "beat_image", "beat_1")}/content");
        ranged.Headers.Range = new RangeHeaderValue(8, 15);
        var partial = await client.SendAsync(ranged, Http.Ct);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal(image[8..16], await partial.Content.ReadAsByteArrayAsync(Http.Ct));
        Assert.Equal(image.Length, partial.Content.Headers.ContentRange?.Length);
        var original = await client.GetAsync($"{Art(storyboard, "beat_image", "beat_1")}/versions/1/content", Http.Ct);
        Assert.NotEqual(image, await original.Content.ReadAsByteArrayAsync(Http.Ct));

        // Regenerate beat 2 with a prompt override.
        var regenerated = await client.RegenerateAsync($"api/checkpoints/{storyboard}/units/2/regenerate", new { prompt = "a red lamp", seed = 7 });
        var regen = await regenerated.JsonAsync();
        Assert.Equal("a red lamp", regen.GetProperty("artifact").GetProperty("metadata").GetProperty("prompt").GetString());
        Assert.Equal(7, regen.GetProperty("artifact").GetProperty("metadata").GetProperty("seed").GetInt64());
        Assert.Equal("\"v2\"", regenerated.Headers.ETag?.ToString());

        // Continue the edited storyboard: another branch; the chunks are videos, served with ranges.
        var chunks = await (await client.PostJsonAsync($"api/checkpoints/{storyboard}/continue")).JsonAsync();
        Assert.Equal("main-1-1", chunks.GetProperty("branch").GetString());
        var chunkId = chunks.GetProperty("checkpoint").GetProperty("id").GetGuid();
        var video = new HttpRequestMessage(HttpMethod.Get, $"{Art(chunkId, "chunk", "chunk_1")}/content");
        video.Headers.Range = new RangeHeaderValue(4, null);
        var clip = await client.SendAsync(video, Http.Ct);
        Assert.Equal(HttpStatusCode.PartialContent, clip.StatusCode);
        Assert.Equal("video/mp4", clip.Content.Headers.ContentType?.MediaType);
        Assert.StartsWith("ftyp", Encoding.ASCII.GetString(await clip.Content.ReadAsByteArrayAsync(Http.Ct)));

        var branches = await (await client.GetAsync($"api/runs/{runId}/branches", Http.Ct)).JsonAsync();
        Assert.Equal(["main", "main-1", "main-1-1"], branches.EnumerateArray().Select(b => b.GetProperty("name").GetString()).Order());

        // Retry refuses a paused run; cancel cancels it.
        await (await client.PostJsonAsync($"api/runs/{runId}/retry")).ProblemAsync(409, P.RunState);
        var cancelled = await (await client.PostJsonAsync($"api/runs/{runId}/cancel")).JsonAsync();
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Each_sdk_error_answers_with_its_status_and_problem_type()
    {
        using var client = Host.Client("alice");
        var (runId, plan) = await StartAsync(client, beats: 2);
        var missing = Guid.NewGuid();

        // 404s, each with its own type.
        await (await client.GetAsync($"api/runs/{missing}", Http.Ct)).ProblemAsync(404, P.RunNotFound);
        await (await client.GetAsync($"api/runs/{missing}/events", Http.Ct)).ProblemAsync(404, P.RunNotFound);
        await (await client.GetAsync($"api/checkpoints/{missing}", Http.Ct)).ProblemAsync(404, P.CheckpointNotFound);
        await (await client.GetAsync(Art(plan, "spec", "nope"), Http.Ct)).ProblemAsync(404, P.ArtifactNotFound);
        await (await client.GetAsync($"{Art(plan, "spec", "spec")}/versions/9/content", Http.Ct)).ProblemAsync(404, P.ArtifactNotFound);
        await (await client.PostJsonAsync("api/runs", new { pipeline = "nope", input = new { } })).ProblemAsync(404, P.PipelineNotFound);
        await (await client.GetAsync(Art(plan, "spec", "bad%20key"), Http.Ct)).ProblemAsync(400, P.InvalidArtifactKey);

        // 422: malformed JSON, a patch that is not an object, a spec that fails validation.
        await (await client.PatchAsync(Art(plan, "spec", "spec"), "{\"beats\": [")).ProblemAsync(422, P.InvalidJson);
        await (await client.PatchAsync(Art(plan, "spec", "spec"), "[1,2]")).ProblemAsync(422, P.InvalidJson);
        var invalid = await (await client.PatchAsync(Art(plan, "spec", "spec"), "{\"total_duration\": 99}")).ProblemAsync(422, P.ValidationFailed);
        Assert.Contains("total_duration 99", invalid.GetProperty("errors")[0].GetString(), StringComparison.Ordinal);
        await (await client.PostAsync("api/runs", new StringContent("{not json", Encoding.UTF8, "application/json"), Http.Ct)).ProblemAsync(422, P.InvalidJson);

        // 415: a merge patch sent as text; 413: a JSON body over the limit.
        await (await client.PatchAsync(Art(plan, "spec", "spec"), "{}", contentType: "text/plain")).ProblemAsync(415, P.UnsupportedContentType);
        await (await client.PatchAsync(Art(plan, "spec", "spec"), "{\"x\":\"" + new string('a', 1024 * 1024) + "\"}")).ProblemAsync(413, P.RequestTooLarge);

        // 412: If-Match that is no version at all.
        await (await client.PatchAsync(Art(plan, "spec", "spec"), "{}", "\"garbage\"")).ProblemAsync(412, P.PreconditionFailed);

        // Continue to the storyboard; then 404 unit, 409 edit not allowed, 415 media type, 502 generation failure.
        var storyboard = (await (await client.PostJsonAsync($"api/checkpoints/{plan}/continue")).JsonAsync()).GetProperty("checkpoint").GetProperty("id").GetGuid();
        var unit = await (await client.RegenerateAsync($"api/checkpoints/{storyboard}/units/9/regenerate")).ProblemAsync(404, P.UnitNotFound);
        Assert.Equal(2, unit.GetProperty("unitCount").GetInt32());
        await (await client.PatchAsync(Art(storyboard, "beat_image", "beat_1"), "{}")).ProblemAsync(409, P.EditNotAllowed);
        var media = await (await client.UploadAsync($"{Art(storyboard, "beat_image", "beat_1")}/content", new MemoryStream("just some text, not an image"u8.ToArray()), fileName: "image.png")).ProblemAsync(415, P.UnsupportedMediaType);
        Assert.Contains("image/png", media.GetProperty("allowed").EnumerateArray().Select(a => a.GetString()));
        await (await client.RegenerateAsync($"api/checkpoints/{storyboard}/units/1/regenerate", "not an object")).ProblemAsync(422, P.InvalidJson);
        Host.Backend.FailWhen = r => r.Input["prompt"]?.GetValue<string>() == "fail please" ? "the model refused" : null;
        var failed = await (await client.RegenerateAsync($"api/checkpoints/{storyboard}/units/1/regenerate", new { prompt = "fail please" })).ProblemAsync(502, P.GenerationFailed);
        Assert.Contains("the model refused", failed.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Host.Backend.FailWhen = _ => null;

        // 409: retry a paused run; continue an abandoned checkpoint; continue the terminal phase.
        await (await client.PostJsonAsync($"api/runs/{runId}/retry")).ProblemAsync(409, P.RunState);
        var chunks = (await (await client.PostJsonAsync($"api/checkpoints/{storyboard}/continue")).JsonAsync()).GetProperty("checkpoint").GetProperty("id").GetGuid();
        var final = (await (await client.PostJsonAsync($"api/checkpoints/{chunks}/continue")).JsonAsync()).GetProperty("checkpoint").GetProperty("id").GetGuid();
        await (await client.PostJsonAsync($"api/checkpoints/{final}/continue")).ProblemAsync(409, P.TerminalPhase);
        Assert.Equal(HttpStatusCode.NoContent, (await client.GetAsync($"api/runs/{runId}/checkpoints/current", Http.Ct)).StatusCode);
        await Host.Services.GetRequiredService<CheckpointEditor>().AbandonAsync(plan, Http.Ct);
        await (await client.PatchAsync(Art(plan, "spec", "spec"), "{}")).ProblemAsync(409, P.CheckpointAbandoned);
        await (await client.PostJsonAsync($"api/checkpoints/{plan}/continue")).ProblemAsync(409, P.CheckpointAbandoned);

        // 400: a Last-Event-ID that is no event id.
        var events = new HttpRequestMessage(HttpMethod.Get, $"api/runs/{runId}/events");
        events.Headers.Add("Last-Event-ID", "yesterday");
        await (await client.SendAsync(events, Http.Ct)).ProblemAsync(400, P.BadRequest);
    }

    [Fact]
    public async Task A_race_between_two_editors_answers_409_conflict()
    {
        using var client = Host.Client("alice");
        var (_, plan) = await StartAsync(client, beats: 2);
        var storyboard = (await (await client.PostJsonAsync($"api/checkpoints/{plan}/continue")).JsonAsync()).GetProperty("checkpoint").GetProperty("id").GetGuid();

        // The regeneration reads version 1, then waits in the backend while an upload writes version 2.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Host.Backend.BeforeComplete = async (request, ct) =>
        {
            if (request.Input["prompt"]?.GetValue<string>() == "slow")
            {
                waiting.TrySetResult();
                await release.Task.WaitAsync(ct);
            }
        };
        var regenerate = client.RegenerateAsync($"api/checkpoints/{storyboard}/units/1/regenerate", new { prompt = "slow" });
        await waiting.Task.WaitAsync(TimeSpan.FromSeconds(30), Http.Ct);
        await (await client.UploadAsync($"{Art(storyboard, "beat_image", "beat_1")}/content", new MemoryStream(Http.Png("first")))).JsonAsync();
        release.SetResult();

        // The host allows one attempt per edit (MaxEditAttempts = 1), so the loser of the race is told, not retried.
        await (await regenerate).ProblemAsync(409, P.Conflict);
        var current = await (await client.GetAsync(Art(storyboard, "beat_image", "beat_1"), Http.Ct)).JsonAsync();
        Assert.Equal(2, current.GetProperty("version").GetInt32());
        Assert.Equal("upload", current.GetProperty("metadata").GetProperty("extra").GetProperty("source").GetString());
    }

    [Fact]
    public async Task A_stale_if_match_is_refused_with_412_and_changes_nothing()
    {
        using var client = Host.Client("alice");
        var (runId, plan) = await StartAsync(client, beats: 2);
        var storyboard = (await (await client.PostJsonAsync($"api/checkpoints/{plan}/continue")).JsonAsync()).GetProperty("checkpoint").GetProperty("id").GetGuid();
        await (await client.UploadAsync($"{Art(storyboard, "beat_image", "beat_1")}/content", new MemoryStream(Http.Png("v2")), "\"v1\"")).JsonAsync();
        await (await client.PatchAsync(Art(plan, "spec", "spec"), JsonSerializer.Serialize(ReviewPipeline.DefaultSpec(1)), "\"v1\"")).JsonAsync();
        var submitted = Host.Backend.SubmitCount();
        var before = await Host.SnapshotAsync(runId);

        await (await client.PatchAsync(Art(plan, "spec", "spec"), JsonSerializer.Serialize(ReviewPipeline.DefaultSpec(3)), "\"v1\"")).ProblemAsync(412, P.PreconditionFailed);
        await (await client.UploadAsync($"{Art(storyboard, "beat_image", "beat_1")}/content", new MemoryStream(Http.Png("stale upload")), "\"v1\"")).ProblemAsync(412, P.PreconditionFailed);
        await (await client.RegenerateAsync($"api/checkpoints/{storyboard}/units/1/regenerate", new { prompt = "stale" }, "\"v1\"")).ProblemAsync(412, P.PreconditionFailed);

        Assert.Equal(before, await Host.SnapshotAsync(runId));
        Assert.Equal(submitted, Host.Backend.SubmitCount());

        // The current ETag still works.
        await (await client.RegenerateAsync($"api/checkpoints/{storyboard}/units/1/regenerate", new { prompt = "fresh" }, "\"v2\"")).JsonAsync();
    }

    [Fact]
    public async Task Owner_b_can_neither_read_nor_change_owner_as_run()
    {
        using var alice = Host.Client("alice");
        using var bob = Host.Client("bob");
        var (runId, plan) = await StartAsync(alice, beats: 2);
        var storyboard = (await (await alice.PostJsonAsync($"api/checkpoints/{plan}/continue")).JsonAsync()).GetProperty("checkpoint").GetProperty("id").GetGuid();
        var before = await Host.SnapshotAsync(runId);

        Assert.Equal(0, (await (await bob.GetAsync("api/runs", Http.Ct)).JsonAsync()).GetArrayLength());
        foreach (var url in new[] { $"api/runs/{runId}", $"api/runs/{runId}/checkpoints", $"api/runs/{runId}/checkpoints/current", $"api/runs/{runId}/branches", $"api/runs/{runId}/tree", $"api/runs/{runId}/events" })
        {
            await (await bob.GetAsync(url, Http.Ct)).ProblemAsync(404, P.RunNotFound);
        }

        foreach (var url in new[] { $"api/checkpoints/{plan}", Art(plan, "spec", "spec"), $"{Art(plan, "spec", "spec")}/content", $"{Art(plan, "spec", "spec")}/versions", $"{Art(plan, "spec", "spec")}/versions/1/content", $"{Art(storyboard, "beat_image", "beat_1")}/content" })
        {
            await (await bob.GetAsync(url, Http.Ct)).ProblemAsync(404, P.CheckpointNotFound);
        }

        await (await bob.PatchAsync(Art(plan, "spec", "spec"), "{\"template\":\"bob\"}")).ProblemAsync(404, P.CheckpointNotFound);
        await (await bob.UploadAsync($"{Art(storyboard, "beat_image", "beat_1")}/content", new MemoryStream(Http.Png("bob")))).ProblemAsync(404, P.CheckpointNotFound);
        await (await bob.RegenerateAsync($"api/checkpoints/{storyboard}/units/1/regenerate", new { prompt = "bob" })).ProblemAsync(404, P.CheckpointNotFound);
        await (await bob.PostJsonAsync($"api/checkpoints/{storyboard}/continue")).ProblemAsync(404, P.CheckpointNotFound);
        await (await bob.PostJsonAsync($"api/runs/{runId}/retry")).ProblemAsync(404, P.RunNotFound);
        await (await bob.PostJsonAsync($"api/runs/{runId}/cancel")).ProblemAsync(404, P.RunNotFound);

        Assert.Equal(before, await Host.SnapshotAsync(runId));

        // Anonymous callers are refused by the authorization the endpoints require.
        using var anonymous = Host.Client(null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("api/runs", Http.Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync($"api/runs/{runId}", Http.Ct)).StatusCode);
    }
}

public sealed class SqliteApiTests() : ApiTests(StoreKind.Sqlite);

public sealed class PostgresApiTests() : ApiTests(StoreKind.Postgres);
