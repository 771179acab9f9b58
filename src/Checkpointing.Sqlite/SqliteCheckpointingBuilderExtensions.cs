using Checkpointing.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Checkpointing;

/// <summary>Adds the SQLite metadata store to the Checkpointing SDK.</summary>
public static class SqliteCheckpointingBuilderExtensions
{
    /// <summary>Keeps metadata in a SQLite database file, replacing the default in-memory store.</summary>
    /// <param name="builder">The Checkpointing builder.</param>
    /// <param name="connectionString">
    /// A connection string such as <c>Data Source=data/checkpoints.db</c>, or a plain file path such as
    /// <c>data/checkpoints.db</c> (a value without <c>=</c> is taken as a path).
    /// </param>
    /// <returns>The builder.</returns>
    public static CheckpointingBuilder UseSqlite(this CheckpointingBuilder builder, string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        return builder.UseSqlite(o =>
        {
            if (connectionString.Contains('=', StringComparison.Ordinal))
            {
                o.ConnectionString = connectionString;
            }
            else
            {
                o.DataSource = connectionString;
            }
        });
    }

    /// <summary>Keeps metadata in a SQLite database file, replacing the default in-memory store.</summary>
    /// <param name="builder">The Checkpointing builder.</param>
    /// <param name="configure">Sets the <see cref="SqliteStoreOptions"/>; they are validated at start-up.</param>
    /// <returns>The builder.</returns>
    public static CheckpointingBuilder UseSqlite(this CheckpointingBuilder builder, Action<SqliteStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.AddOptions<SqliteStoreOptions>().Configure(configure).ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SqliteStoreOptions>, SqliteStoreOptionsValidator>());
        builder.Services.TryAddSingleton(sp => new SqliteCheckpointStore(
            sp.GetRequiredService<IOptions<SqliteStoreOptions>>().Value,
            sp.GetService<ILoggerFactory>(),
            sp.GetService<TimeProvider>()));
        return builder.UseStore(sp => sp.GetRequiredService<SqliteCheckpointStore>());
    }
}
