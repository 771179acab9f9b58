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
        var run = new Run(Guid.NewGuid(), "p", "owner", input.RootElement.Clone(), false, RunStatus.Queued, 1, "main", null, null, 0m, null, T0, T0);
        await store.CreateRunAsync(run, Ct); // migrates the schema first

        using var commands = new CommandCounter();
        var claimed = await commands.CountAsync(() => store.TryClaimRunAsync(run.Id, "worker-1", T0, T0.AddSeconds(30), Ct));
        var renewed = await commands.CountAsync(() => store.RenewLeaseAsync(run.Id, 1, T0.AddSeconds(60), Ct));
        var released = await commands.CountAsync(() => store.ReleaseLeaseAsync(run.Id, 1, T0.AddSeconds(61), Ct));
        var next = await commands.CountAsync(() => store.ClaimNextRunAsync("worker-2", T0.AddSeconds(62), T0.AddSeconds(92), Ct));

        Assert.Equal((1, 1, 1, 1), (claimed, renewed, released, next));
        Assert.Equal("worker-2", (await store.GetRunAsync(run.Id, Ct))!.LeaseOwner);
    }
}
