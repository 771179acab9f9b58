using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Checkpointing.Postgres.Tests;

/// <summary>
/// The SDK on a PostgreSQL schema of its own, its data source counting round trips (<see cref="Trips"/>), with files
/// as the blob store: what the round-trip tests of the runner and the queries run on.
/// </summary>
internal sealed class CountedSdkHost : IAsyncDisposable
{
    private readonly string _schema = SchemaFixture.NewSchemaName();
    private readonly string _blobs = Path.Combine(Path.GetTempPath(), "checkpointing-tests", Guid.NewGuid().ToString("N"));
    private readonly NpgsqlDataSource _source;

    /// <summary>Creates the host; <paramref name="pipelines"/> registers the pipelines it runs.</summary>
    public CountedSdkHost(string applicationName, Action<CheckpointingBuilder> pipelines)
    {
        _source = PostgresServer.CreateDataSource(applicationName, Trips);
        var services = new ServiceCollection();
        services.AddCheckpointing(b =>
        {
            pipelines(b);
            b.UsePostgres(_source, o => o.SchemaName = _schema).UseFileSystemBlobStore(o => o.RootPath = _blobs);
        });
        Services = services.BuildServiceProvider();
    }

    public RoundTripCounter Trips { get; } = new();

    public ServiceProvider Services { get; }

    public async ValueTask DisposeAsync()
    {
        await Services.DisposeAsync();
        await SchemaFixture.DropSchemaAsync(_source, _schema);
        await _source.DisposeAsync();
        if (Directory.Exists(_blobs))
        {
            Directory.Delete(_blobs, recursive: true);
        }

        Trips.Dispose();
    }
}
