using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Checkpointing.Sqlite.Tests;

public sealed class HealthCheckTests : IDisposable
{
    private readonly TempDatabase _database = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _database.Dispose();

    private static async Task<HealthReportEntry> CheckAsync(IServiceProvider services) =>
        (await services.GetRequiredService<HealthCheckService>().CheckHealthAsync(Ct)).Entries[SqliteHealthChecksBuilderExtensions.DefaultName];

    [Fact]
    public async Task The_check_is_unhealthy_while_the_database_is_gone_and_healthy_again_when_it_is_back()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddCheckpointing(b => b.UseSqlite(_database.FilePath));
        services.AddHealthChecks().AddCheckpointingSqlite(tags: ["ready"]);
        await using var provider = services.BuildServiceProvider(validateScopes: true);

        var healthy = await CheckAsync(provider);
        Assert.Equal(HealthStatus.Healthy, healthy.Status);
        Assert.Equal(_database.FilePath, healthy.Data["dataSource"]);
        Assert.Equal(SqliteMigrator.LatestVersion, healthy.Data["schemaVersion"]);
        Assert.Equal(["ready"], healthy.Tags);

        // The folder moves away while the store holds pooled connections to the file inside it.
        var moved = _database.Folder + "-moved";
        Directory.Move(_database.Folder, moved);
        try
        {
            var gone = await CheckAsync(provider);
            Assert.Equal(HealthStatus.Unhealthy, gone.Status);
            Assert.Equal(
                $"The folder '{_database.Folder}' of the SQLite database '{_database.FilePath}' no longer exists (moved or deleted while the store was using it); restore it.",
                gone.Description);
        }
        finally
        {
            Directory.Move(moved, _database.Folder);
        }

        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(provider)).Status);
    }

    [Fact]
    public async Task A_file_that_is_not_a_database_is_unhealthy_with_the_reason()
    {
        await File.WriteAllTextAsync(_database.FilePath, "this is a text file, not a SQLite database", Ct);
        var services = new ServiceCollection().AddLogging();
        services.AddCheckpointing(b => b.UseSqlite(_database.FilePath));
        services.AddHealthChecks().AddCheckpointingSqlite(failureStatus: HealthStatus.Degraded);
        await using var provider = services.BuildServiceProvider();

        var entry = await CheckAsync(provider);

        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.StartsWith($"'{_database.FilePath}' is not a SQLite database", entry.Description, StringComparison.Ordinal);
        Assert.IsType<SqliteDatabaseFileException>(entry.Exception);
    }

    [Fact]
    public async Task Without_the_sqlite_store_the_check_says_how_to_register_it()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddCheckpointing(_ => { });
        services.AddHealthChecks().AddCheckpointingSqlite();
        await using var provider = services.BuildServiceProvider();

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => CheckAsync(provider));

        Assert.Equal(
            "The health check 'checkpointing-sqlite' checks the Checkpointing SQLite store, but none is registered. Register it with services.AddCheckpointing(b => b.UseSqlite(...)).",
            e.Message);
    }
}
