using Checkpointing.Postgres;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Checkpointing;

/// <summary>Adds the PostgreSQL metadata store to the Checkpointing SDK.</summary>
public static class PostgresCheckpointingBuilderExtensions
{
    /// <summary>Keeps metadata in PostgreSQL, replacing the default in-memory store.</summary>
    /// <param name="builder">The Checkpointing builder.</param>
    /// <param name="connectionStringOrDataSourceKey">
    /// An Npgsql connection string such as <c>Host=db;Username=app;Password=…;Database=app</c> (the store builds and owns a
    /// data source), or, when the value contains no <c>=</c>, the service key of an <see cref="NpgsqlDataSource"/>
    /// registered in DI as a keyed service (e.g. <c>services.AddNpgsqlDataSource(cs, serviceKey: "pg")</c>).
    /// </param>
    /// <param name="configure">Sets the other <see cref="PostgresStoreOptions"/> (schema, migrations, retries); optional.</param>
    /// <returns>The builder.</returns>
    public static CheckpointingBuilder UsePostgres(this CheckpointingBuilder builder, string connectionStringOrDataSourceKey, Action<PostgresStoreOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionStringOrDataSourceKey);
        return builder.UsePostgres(o =>
        {
            if (connectionStringOrDataSourceKey.Contains('=', StringComparison.Ordinal))
            {
                o.ConnectionString = connectionStringOrDataSourceKey;
            }
            else
            {
                o.DataSourceKey = connectionStringOrDataSourceKey;
            }

            configure?.Invoke(o);
        });
    }

    /// <summary>Keeps metadata in PostgreSQL through a data source the application owns (the store does not dispose it).</summary>
    /// <param name="builder">The Checkpointing builder.</param>
    /// <param name="dataSource">The Npgsql data source.</param>
    /// <param name="configure">Sets the other <see cref="PostgresStoreOptions"/> (schema, migrations, retries); optional.</param>
    /// <returns>The builder.</returns>
    public static CheckpointingBuilder UsePostgres(this CheckpointingBuilder builder, NpgsqlDataSource dataSource, Action<PostgresStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        return builder.UsePostgres(o =>
        {
            o.DataSource = dataSource;
            configure?.Invoke(o);
        });
    }

    /// <summary>Keeps metadata in PostgreSQL, replacing the default in-memory store.</summary>
    /// <param name="builder">The Checkpointing builder.</param>
    /// <param name="configure">Sets the <see cref="PostgresStoreOptions"/>; they are validated at start-up, every problem reported at once.</param>
    /// <returns>The builder.</returns>
    public static CheckpointingBuilder UsePostgres(this CheckpointingBuilder builder, Action<PostgresStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.AddOptions<PostgresStoreOptions>().Configure(configure).ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PostgresStoreOptions>, PostgresStoreOptionsValidator>());
        builder.Services.TryAddSingleton(Create);
        return builder.UseStore(sp => sp.GetRequiredService<PostgresCheckpointStore>());
    }

    private static PostgresCheckpointStore Create(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<PostgresStoreOptions>>().Value;
        var loggerFactory = services.GetService<ILoggerFactory>();
        var time = services.GetService<TimeProvider>();
        if (!string.IsNullOrWhiteSpace(options.DataSourceKey) && options.DataSource is null && string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            var dataSource = services.GetKeyedService<NpgsqlDataSource>(options.DataSourceKey)
                ?? throw new InvalidOperationException(
                    $"PostgresStoreOptions.DataSourceKey is '{options.DataSourceKey}', but no NpgsqlDataSource is registered under that key. " +
                    $"Register one with services.AddNpgsqlDataSource(connectionString, serviceKey: \"{options.DataSourceKey}\") (package Npgsql.DependencyInjection) " +
                    "or services.AddKeyedSingleton, or pass a connection string (a value containing '=') to UsePostgres.");
            return new PostgresCheckpointStore(dataSource, options, loggerFactory, time);
        }

        return new PostgresCheckpointStore(options, loggerFactory, time);
    }
}
