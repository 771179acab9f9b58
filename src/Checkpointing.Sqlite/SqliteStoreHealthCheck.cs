using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Checkpointing.Sqlite;

/// <summary>Reports whether the SQLite store can serve a call now, by reading its schema version.</summary>
/// <param name="store">The store to check.</param>
internal sealed class SqliteStoreHealthCheck(SqliteCheckpointStore store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var version = await store.ProbeAsync(cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy(
                $"SQLite database '{store.DataSource}' answers at schema version {version}.",
                new Dictionary<string, object> { ["dataSource"] = store.DataSource, ["schemaVersion"] = version });
        }
        catch (Exception e) when (e is CheckpointingException or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, e.Message, e,
                new Dictionary<string, object> { ["dataSource"] = store.DataSource });
        }
    }
}
