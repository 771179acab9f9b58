using Checkpointing.Conformance;

namespace Checkpointing.Postgres.Tests;

/// <summary>The runner's bad-input conformance tests on the PostgreSQL store, on a schema of their own.</summary>
public sealed class RunnerInputTests : RunnerInputConformanceTests
{
    private readonly string _schema = SchemaFixture.NewSchemaName();

    protected override void UseStore(CheckpointingBuilder builder) =>
        builder.UsePostgres(PostgresServer.ConnectionString, o => o.SchemaName = _schema);

    public override async ValueTask InitializeAsync() => await PostgresServer.RequireAsync();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await using var dataSource = PostgresServer.CreateDataSource();
        await SchemaFixture.DropSchemaAsync(dataSource, _schema);
    }
}
