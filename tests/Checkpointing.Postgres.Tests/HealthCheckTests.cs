using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Checkpointing.Postgres.Tests;

public sealed class HealthCheckTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<HealthReportEntry> CheckAsync(IServiceProvider services) =>
        (await services.GetRequiredService<HealthCheckService>().CheckHealthAsync(Ct)).Entries[PostgresHealthChecksBuilderExtensions.DefaultName];

    [Fact]
    public async Task The_check_is_unhealthy_while_the_server_is_stopped_and_healthy_again_when_it_is_back()
    {
        await using var server = await PrivatePostgresServer.StartAsync();
        var services = new ServiceCollection().AddLogging();
        services.AddCheckpointing(b => b.UsePostgres(server.ConnectionString, o => o.SchemaName = "health"));
        services.AddHealthChecks().AddCheckpointingPostgres(tags: ["ready"]);
        await using var provider = services.BuildServiceProvider(validateScopes: true);

        var healthy = await CheckAsync(provider);
        Assert.Equal(HealthStatus.Healthy, healthy.Status);
        Assert.Equal("health", healthy.Data["schema"]);
        Assert.Equal(PostgresMigrator.LatestVersion, healthy.Data["schemaVersion"]);
        Assert.Equal(["ready"], healthy.Tags);

        await server.HaltAsync();
        var down = await CheckAsync(provider);
        Assert.Equal(HealthStatus.Unhealthy, down.Status);
        Assert.StartsWith("PostgreSQL GetSchemaVersion failed: Failed to connect to 127.0.0.1:", down.Description, StringComparison.Ordinal);
        Assert.IsType<CheckpointingException>(down.Exception);

        await server.ResumeAsync();
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(provider)).Status);
    }

    [Fact]
    public async Task Without_the_postgres_store_the_check_says_how_to_register_it()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddCheckpointing(_ => { });
        services.AddHealthChecks().AddCheckpointingPostgres("db");
        await using var provider = services.BuildServiceProvider();

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => provider.GetRequiredService<HealthCheckService>().CheckHealthAsync(Ct));

        Assert.Equal(
            "The health check 'db' checks the Checkpointing PostgreSQL store, but none is registered. Register it with services.AddCheckpointing(b => b.UsePostgres(...)).",
            e.Message);
    }
}
