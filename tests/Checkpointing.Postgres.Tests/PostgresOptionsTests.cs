using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Checkpointing.Postgres.Tests;

public sealed class PostgresOptionsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Defaults()
    {
        var options = new PostgresStoreOptions();

        Assert.Null(options.DataSource);
        Assert.Null(options.ConnectionString);
        Assert.Null(options.DataSourceKey);
        Assert.Equal("checkpointing", options.SchemaName);
        Assert.True(options.ApplyMigrations);
        Assert.Equal(10, options.MaxTransientRetries);
    }

    [Fact]
    public void A_data_source_key_that_names_a_registered_data_source_passes_start_up()
    {
        var services = new ServiceCollection();
        services.AddKeyedSingleton("orders", (_, _) => NpgsqlDataSource.Create("Host=127.0.0.1;Username=postgres;Database=postgres"));
        services.AddCheckpointing(b => b.UsePostgres(o => o.DataSourceKey = "orders"));
        using var provider = services.BuildServiceProvider();

        provider.GetRequiredService<IStartupValidator>().Validate();
    }

    [Fact]
    public void Nothing_set_is_refused_with_what_to_set()
    {
        var result = new PostgresStoreOptionsValidator().Validate(null, new PostgresStoreOptions());

        Assert.True(result.Failed);
        Assert.Equal(
            "PostgresStoreOptions: no database is set; set ConnectionString (e.g. 'Host=localhost;Username=app;Password=secret;Database=app'), " +
            "DataSourceKey (the key of an NpgsqlDataSource registered in DI) or pass an NpgsqlDataSource to UsePostgres.",
            Assert.Single(result.Failures!));
    }

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        var options = new PostgresStoreOptions
        {
            ConnectionString = "Username=app;Database=app",
            DataSourceKey = "pg",
            SchemaName = "Bad-Name",
            MaxTransientRetries = -1,
        };

        var failures = new PostgresStoreOptionsValidator().Validate(null, options).Failures!.ToList();

        Assert.Equal(
        [
            "PostgresStoreOptions: ConnectionString and DataSourceKey are all set; set only one of them.",
            "PostgresStoreOptions.ConnectionString has no Host; add 'Host=your-server' (and Username, Password, Database).",
            "PostgresStoreOptions.SchemaName is 'Bad-Name'; use 1-63 characters from a-z, 0-9 and '_', starting with a letter or '_' and not with 'pg_' (the default is 'checkpointing').",
            "PostgresStoreOptions.MaxTransientRetries is -1; set it between 0 and 100.",
        ], failures);
    }

    [Theory]
    [InlineData("")]
    [InlineData("1abc")]
    [InlineData("pg_things")]
    [InlineData("has space")]
    [InlineData("x\"; DROP TABLE runs; --")]
    [InlineData("a_name_that_is_far_too_long_for_a_postgres_identifier_of_63_bytes")]
    public void Unusable_schema_names_are_refused(string schema)
    {
        var result = new PostgresStoreOptionsValidator().Validate(null, new PostgresStoreOptions { ConnectionString = "Host=h", SchemaName = schema });

        Assert.StartsWith($"PostgresStoreOptions.SchemaName is '{schema}'; use 1-63 characters", Assert.Single(result.Failures!), StringComparison.Ordinal);
    }

    [Fact]
    public void An_unparsable_connection_string_is_refused_with_the_form_to_use()
    {
        var result = new PostgresStoreOptionsValidator().Validate(null, new PostgresStoreOptions { ConnectionString = "Host=h;Bogus Keyword=1" });

        var failure = Assert.Single(result.Failures!);
        Assert.StartsWith("PostgresStoreOptions.ConnectionString cannot be parsed (", failure, StringComparison.Ordinal);
        Assert.EndsWith("use the form 'Host=localhost;Username=app;Password=secret;Database=app'.", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void The_store_constructor_refuses_invalid_options()
    {
        using var dataSource = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1");

        var e = Assert.Throws<InvalidOperationException>(() => new PostgresCheckpointStore(dataSource, new PostgresStoreOptions { SchemaName = "pg_catalog" }));

        Assert.StartsWith("PostgresStoreOptions.SchemaName is 'pg_catalog'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_options_constructor_cannot_resolve_a_keyed_data_source_and_says_what_to_do()
    {
        var e = Assert.Throws<InvalidOperationException>(() => new PostgresCheckpointStore(new PostgresStoreOptions { DataSourceKey = "pg" }));

        Assert.Equal(
            "PostgresStoreOptions.DataSourceKey 'pg' names a keyed service, which only dependency injection can resolve; " +
            "use builder.UsePostgres(key), or pass the NpgsqlDataSource to the store's constructor.",
            e.Message);
    }

    [Fact]
    public void UsePostgres_with_a_connection_string_keeps_it_and_builds_the_store()
    {
        var services = new ServiceCollection();
        services.AddCheckpointing(b => b.UsePostgres("Host=127.0.0.1;Port=1;Username=app", o => o.SchemaName = "tenant_a"));
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<PostgresStoreOptions>>().Value;
        var store = Assert.IsType<PostgresCheckpointStore>(provider.GetRequiredService<ICheckpointStore>());

        Assert.Equal("Host=127.0.0.1;Port=1;Username=app", options.ConnectionString);
        Assert.Null(options.DataSourceKey);
        Assert.Equal("tenant_a", store.SchemaName);
        Assert.Same(store, provider.GetRequiredService<PostgresCheckpointStore>());
    }

    [Fact]
    public async Task UsePostgres_with_a_key_uses_the_keyed_data_source_and_does_not_dispose_it()
    {
        await PostgresServer.RequireAsync();
        var schema = SchemaFixture.NewSchemaName();
        await using var dataSource = PostgresServer.CreateDataSource();
        try
        {
            var services = new ServiceCollection();
            services.AddKeyedSingleton("pg", dataSource);
            services.AddCheckpointing(b => b.UsePostgres("pg", o => o.SchemaName = schema));
            var run = new Run
            {
                Id = Guid.NewGuid(),
                Pipeline = "p",
                OwnerId = "o",
                Input = default,
                Status = RunStatus.Queued,
                CreatedAt = DateTimeOffset.UnixEpoch,
                UpdatedAt = DateTimeOffset.UnixEpoch,
            };
            using (var document = System.Text.Json.JsonDocument.Parse("{}"))
            {
                run = run with { Input = document.RootElement.Clone() };
            }

            await using (var provider = services.BuildServiceProvider())
            {
                Assert.Equal("pg", provider.GetRequiredService<IOptions<PostgresStoreOptions>>().Value.DataSourceKey);
                await provider.GetRequiredService<ICheckpointStore>().CreateRunAsync(run, Ct);
            }

            // The container disposed the store, not the application's data source.
            await using var again = new PostgresCheckpointStore(dataSource, new PostgresStoreOptions { SchemaName = schema });
            Assert.NotNull(await again.GetRunAsync(run.Id, Ct));
        }
        finally
        {
            await SchemaFixture.DropSchemaAsync(dataSource, schema);
        }
    }

    [Fact]
    public void UsePostgres_with_an_unregistered_key_says_how_to_register_it_at_start_up()
    {
        var services = new ServiceCollection();
        services.AddCheckpointing(b => b.UsePostgres("pg"));
        using var provider = services.BuildServiceProvider();

        // Start-up validation reports it, and so does resolving the store without it.
        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<ICheckpointStore>());

        Assert.StartsWith("PostgresStoreOptions.DataSourceKey is 'pg', but no NpgsqlDataSource is registered under that key. Register one with services.AddNpgsqlDataSource(connectionString, serviceKey: \"pg\")", Assert.Single(e.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public void UsePostgres_with_a_data_source_uses_that_instance()
    {
        using var dataSource = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1");
        var services = new ServiceCollection();
        services.AddCheckpointing(b => b.UsePostgres(dataSource));
        using var provider = services.BuildServiceProvider();

        Assert.Same(dataSource, provider.GetRequiredService<IOptions<PostgresStoreOptions>>().Value.DataSource);
        Assert.IsType<PostgresCheckpointStore>(provider.GetRequiredService<ICheckpointStore>());
    }

    [Fact]
    public void UsePostgres_with_invalid_options_fails_when_the_options_are_read()
    {
        var services = new ServiceCollection();
        services.AddCheckpointing(b => b.UsePostgres(o => o.MaxTransientRetries = 1000));
        using var provider = services.BuildServiceProvider();

        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<ICheckpointStore>());

        Assert.Contains("PostgresStoreOptions.MaxTransientRetries is 1000; set it between 0 and 100.", e.Failures);
        Assert.Contains(e.Failures, f => f.StartsWith("PostgresStoreOptions: no database is set;", StringComparison.Ordinal));
    }
}
