using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Checkpointing.HealthChecks;

/// <summary>
/// A store's health check: healthy when its probe answers, otherwise the registration's failure status with the
/// store's own message. Each store package registers it through <see cref="Register{TStore}"/> with its probe.
/// </summary>
/// <param name="probe">Calls the store; returns the healthy description and any data to add to <paramref name="data"/>.</param>
/// <param name="data">What identifies the store (bucket, schema, file), reported with every result.</param>
/// <param name="describeFailure">The message for an error that means "unhealthy", or null for any other error (rethrown).</param>
internal sealed class ProbeHealthCheck(
    Func<CancellationToken, Task<(string Description, IReadOnlyDictionary<string, object>? Data)>> probe,
    IReadOnlyDictionary<string, object> data,
    Func<Exception, string?> describeFailure) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var result = new Dictionary<string, object>(data);
        try
        {
            var (description, extra) = await probe(cancellationToken).ConfigureAwait(false);
            foreach (var (key, value) in extra ?? new Dictionary<string, object>())
            {
                result[key] = value;
            }

            return HealthCheckResult.Healthy(description, result);
        }
        catch (Exception e) when (describeFailure(e) is { } message)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, message, e, result);
        }
    }

    /// <summary>
    /// Registers a check of the <typeparamref name="TStore"/> registered in the container, or fails when it runs with a
    /// message that says how to register the store.
    /// </summary>
    public static IHealthChecksBuilder Register<TStore>(
        IHealthChecksBuilder builder,
        string name,
        HealthStatus? failureStatus,
        IEnumerable<string>? tags,
        TimeSpan? timeout,
        string storeDescription,
        string registration,
        Func<TStore, IHealthCheck> create)
        where TStore : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return builder.Add(new HealthCheckRegistration(
            name,
            services => create(services.GetService<TStore>()
                ?? throw new InvalidOperationException(
                    $"The health check '{name}' checks the Checkpointing {storeDescription}, but none is registered. " +
                    $"Register it with services.AddCheckpointing(b => b.{registration}(...)).")),
            failureStatus,
            tags,
            timeout));
    }
}
