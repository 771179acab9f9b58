using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Checkpointing.Postgres;

/// <summary>Reports whether the PostgreSQL store can serve a call now, by reading its schema version.</summary>
/// <param name="store">The store to check.</param>
internal sealed class PostgresStoreHealthCheck(PostgresCheckpointStore store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var version = await store.ProbeAsync(cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy(
                $"PostgreSQL schema '{store.SchemaName}' answers at version {version}.",
                new Dictionary<string, object> { ["schema"] = store.SchemaName, ["schemaVersion"] = version });
        }
        catch (Exception e) when (e is CheckpointingException or InvalidOperationException or Npgsql.NpgsqlException or TimeoutException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, e.Message, e,
                new Dictionary<string, object> { ["schema"] = store.SchemaName });
        }
    }
}
