using System.Net;
using Checkpointing.AspNetCore.Tests.Support;

namespace Checkpointing.AspNetCore.Tests;

/// <summary>With a worker in the host, continue answers 202 with the run's Location at once; the worker runs the phase.</summary>
public abstract class QueuedContinueTests(StoreKind kind) : IAsyncLifetime
{
    private ApiHost? _host;

    public async ValueTask InitializeAsync() => _host = await ApiHost.StartAsync(kind, endpoints: o => o.QueueContinuations = true);

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task Continue_is_accepted_with_a_location_and_the_worker_produces_the_checkpoint()
    {
        using var client = _host!.Client("alice");
        var (runId, plan) = await ApiTests.StartAsync(client, beats: 2);

        var response = await client.PostJsonAsync($"api/checkpoints/{plan}/continue");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.EndsWith($"/api/runs/{runId}", response.Headers.Location?.ToString(), StringComparison.Ordinal);
        var body = await response.JsonAsync(HttpStatusCode.Accepted);
        Assert.True(body.GetProperty("queued").GetBoolean());
        Assert.Equal(2, body.GetProperty("nextPhase").GetInt32());
        Assert.Equal("queued", body.GetProperty("run").GetProperty("status").GetString());

        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var status = await (await client.GetAsync(response.Headers.Location, Http.Ct)).JsonAsync();
            if (status.GetProperty("run").GetProperty("status").GetString() == "paused")
            {
                Assert.Equal(2, status.GetProperty("current").GetProperty("phase").GetInt32());
                break;
            }

            Assert.True(DateTime.UtcNow < until, status.ToString());
            await Task.Delay(50, Http.Ct);
        }

        // Continuing the same checkpoint again changes nothing and says so.
        var again = await (await client.PostJsonAsync($"api/checkpoints/{plan}/continue")).JsonAsync();
        Assert.True(again.GetProperty("alreadyContinued").GetBoolean());
        Assert.Equal(2, again.GetProperty("checkpoint").GetProperty("phase").GetInt32());
    }
}

public sealed class SqliteQueuedContinueTests() : QueuedContinueTests(StoreKind.Sqlite);

public sealed class PostgresQueuedContinueTests() : QueuedContinueTests(StoreKind.Postgres);
