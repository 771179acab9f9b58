using Checkpointing.AspNetCore;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the options of the Checkpointing endpoints.</summary>
public static class CheckpointingEndpointServiceCollectionExtensions
{
    /// <summary>
    /// Configures <see cref="CheckpointingEndpointOptions"/> (owner resolver, authorization, limits), validated at
    /// start-up. Optional: without it the endpoints use the defaults.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddCheckpointingEndpoints(this IServiceCollection services, Action<CheckpointingEndpointOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<CheckpointingEndpointOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CheckpointingEndpointOptions>, CheckpointingEndpointOptionsValidator>());
        services.AddProblemDetails();
        if (configure is not null)
        {
            services.Configure(configure);
        }

        return services;
    }
}
