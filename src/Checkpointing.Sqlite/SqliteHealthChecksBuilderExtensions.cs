using Checkpointing.Sqlite;
using Checkpointing.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds a health check for the Checkpointing SDK's SQLite metadata store.</summary>
public static class SqliteHealthChecksBuilderExtensions
{
    /// <summary>The name the check is registered under unless another is given.</summary>
    public const string DefaultName = "checkpointing-sqlite";

    /// <summary>
    /// Checks the SQLite store registered with <c>UseSqlite</c>: healthy when its database file opens and serves a read
    /// (when <see cref="SqliteStoreOptions.ApplyMigrations"/> is on, the first check creates or upgrades the schema, as the
    /// first call would); otherwise <paramref name="failureStatus"/> with the store's error, which says what to do (a
    /// missing folder, a file that is not a database, a database kept locked). The result's data holds the file's path
    /// and the schema version.
    /// </summary>
    /// <param name="builder">The health checks builder from <c>services.AddHealthChecks()</c>.</param>
    /// <param name="name">The check's name. Default: <see cref="DefaultName"/>.</param>
    /// <param name="failureStatus">The status reported when the check fails. Default: <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">Tags to filter checks by, e.g. <c>ready</c>; optional.</param>
    /// <param name="timeout">How long the check may take before it fails; optional (no limit of its own).</param>
    /// <returns>The builder.</returns>
    /// <exception cref="InvalidOperationException">When the check runs: no SQLite store is registered (call <c>UseSqlite</c>).</exception>
    public static IHealthChecksBuilder AddCheckpointingSqlite(
        this IHealthChecksBuilder builder,
        string name = DefaultName,
        HealthStatus? failureStatus = null,
        IEnumerable<string>? tags = null,
        TimeSpan? timeout = null)
    {
        return ProbeHealthCheck.Register<SqliteCheckpointStore>(
            builder, name, failureStatus, tags, timeout, "SQLite store", "UseSqlite",
            store => new ProbeHealthCheck(
                async ct =>
                {
                    var version = await store.ProbeAsync(ct).ConfigureAwait(false);
                    return ($"SQLite database '{store.DataSource}' answers at schema version {version}.", new Dictionary<string, object> { ["schemaVersion"] = version });
                },
                new Dictionary<string, object> { ["dataSource"] = store.DataSource },
                e => e is Checkpointing.CheckpointingException or InvalidOperationException or IOException or UnauthorizedAccessException ? e.Message : null));
    }
}
