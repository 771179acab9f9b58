using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Npgsql;

namespace Checkpointing.Postgres.Tests;

/// <summary>
/// Claim, renew and release each cost one round trip to the server, so a lease adds at most three statements to a
/// phase. Counted with Npgsql's own tracing: one span per command (or batch) sent.
/// </summary>
public sealed class LeaseRoundTripTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly string _schema = SchemaFixture.NewSchemaName();
    private NpgsqlDataSource? _source;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await PostgresServer.RequireAsync();
        _source = PostgresServer.CreateDataSource("checkpointing-tests-roundtrips");
    }

    public async ValueTask DisposeAsync()
    {
        if (_source is not null)
        {
            await SchemaFixture.DropSchemaAsync(_source, _schema);
            await _source.DisposeAsync();
        }
    }

    [Fact]
    public async Task Claim_renew_and_release_are_one_round_trip_each()
    {
        var store = new PostgresCheckpointStore(_source!, new PostgresStoreOptions { SchemaName = _schema });
        using var input = JsonDocument.Parse("{}");
        var run = new Run
        {
            Id = Guid.NewGuid(),
            Pipeline = "p",
            OwnerId = "owner",
            Input = input.RootElement.Clone(),
            Status = RunStatus.Queued,
            CurrentPhase = 1,
            CurrentBranch = "main",
            CreatedAt = T0,
            UpdatedAt = T0,
        };
        await store.CreateRunAsync(run, Ct); // migrates the schema first

        using var commands = new CommandCounter();
        var claimed = await commands.CountAsync(() => store.TryClaimRunAsync(run.Id, "worker-1", T0, T0.AddSeconds(30), Ct));
        var renewed = await commands.CountAsync(() => store.RenewLeaseAsync(run.Id, 1, T0.AddSeconds(60), Ct));
        var released = await commands.CountAsync(() => store.ReleaseLeaseAsync(run.Id, 1, T0.AddSeconds(61), Ct));
        var next = await commands.CountAsync(() => store.ClaimNextRunAsync("worker-2", T0.AddSeconds(62), T0.AddSeconds(92), Ct));

        Assert.Equal((1, 1, 1, 1), (claimed, renewed, released, next));
        Assert.Equal("worker-2", (await store.GetRunAsync(run.Id, Ct))!.LeaseOwner);
    }

    /// <summary>
    /// Counts the commands Npgsql sends for one action: its spans are children of a span the counter starts around the
    /// action, so commands of other tests running at the same time are not counted.
    /// </summary>
    private sealed class CommandCounter : IDisposable
    {
        private const string SourceName = "Checkpointing.Postgres.Tests.RoundTrips";
        private static readonly ActivitySource Source = new(SourceName);
        private readonly ActivityListener _listener;
        private readonly ConcurrentQueue<Activity> _commands = new();

        public CommandCounter()
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = s => s.Name is "Npgsql" or SourceName,
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
                ActivityStopped = a =>
                {
                    if (a.Source.Name == "Npgsql")
                    {
                        _commands.Enqueue(a);
                    }
                },
            };
            ActivitySource.AddActivityListener(_listener);
        }

        public async Task<int> CountAsync(Func<Task> action)
        {
            ActivityTraceId trace;
            using (var around = Source.StartActivity("counted"))
            {
                trace = around!.TraceId;
                await action();
            }

            return _commands.Count(a => a.TraceId == trace);
        }

        public void Dispose() => _listener.Dispose();
    }
}
