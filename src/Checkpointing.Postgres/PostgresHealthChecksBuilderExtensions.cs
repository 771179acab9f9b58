using Checkpointing.Postgres;
using Checkpointing.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds a health check for the Checkpointing SDK's PostgreSQL metadata store.</summary>
public static class PostgresHealthChecksBuilderExtensions
{
    /// <summary>The name the check is registered under unless another is given.</summary>
    public const string DefaultName = "checkpointing-postgres";

    /// <summary>
    /// Checks the PostgreSQL store registered with <c>UsePostgres</c>: healthy when the server answers and the store's
    /// schema serves calls (when <see cref="PostgresStoreOptions.ApplyMigrations"/> is on, the first check migrates it, as
    /// the first call would); otherwise <paramref name="failureStatus"/> with the store's error, which says what to do.
    /// The result's data holds the schema name and its version.
    /// </summary>
    /// <param name="builder">The health checks builder from <c>services.AddHealthChecks()</c>.</param>
    /// <param name="name">The check's name. Default: <see cref="DefaultName"/>.</param>
    /// <param name="failureStatus">The status reported when the check fails. Default: <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">Tags to filter checks by, e.g. <c>ready</c>; optional.</param>
    /// <param name="timeout">How long the check may take before it fails; optional (no limit of its own).</param>
    /// <returns>The builder.</returns>
    /// <exception cref="InvalidOperationException">When the check runs: no PostgreSQL store is registered (call <c>UsePostgres</c>).</exception>
    public static IHealthChecksBuilder AddCheckpointingPostgres(
        this IHealthChecksBuilder builder,
        string name = DefaultName,
        HealthStatus? failureStatus = null,
        IEnumerable<string>? tags = null,
        TimeSpan? timeout = null)
    {
        return ProbeHealthCheck.Register<PostgresCheckpointStore>(
            builder, name, failureStatus, tags, timeout, "PostgreSQL store", "UsePostgres",
            store => new ProbeHealthCheck(
                async ct =>
                {
                    var version = await store.ProbeAsync(ct).ConfigureAwait(false);
                    return ($"PostgreSQL schema '{store.SchemaName}' answers at version {version}.", new Dictionary<string, object> { ["schemaVersion"] = version });
                },
                new Dictionary<string, object> { ["schema"] = store.SchemaName },
                e => e is Checkpointing.CheckpointingException or InvalidOperationException or Npgsql.NpgsqlException or TimeoutException ? e.Message : null));
    }
}
