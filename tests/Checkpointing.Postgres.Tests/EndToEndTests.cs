using Checkpointing.Conformance;

namespace Checkpointing.Postgres.Tests;

/// <summary>Core's runner and editor on the PostgreSQL store; each "process" builds its own data source on the test's schema.</summary>
public sealed class EndToEndTests : RunnerOnStoreConformanceTests
{
    private readonly string _schema = SchemaFixture.NewSchemaName();

    protected override void UseStore(CheckpointingBuilder builder) =>
        builder.UsePostgres(PostgresServer.ConnectionString, o => o.SchemaName = _schema);

    public override async ValueTask InitializeAsync() => await PostgresServer.RequireAsync();

    public override async ValueTask DisposeAsync()
    {
        await using (var dataSource = PostgresServer.CreateDataSource())
        {
            await SchemaFixture.DropSchemaAsync(dataSource, _schema);
        }

        await base.DisposeAsync();
    }
}
