using Checkpointing.Providers.Replicate;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Checkpointing;

/// <summary>Adds the Replicate generation backend to the Checkpointing SDK.</summary>
public static class ReplicateCheckpointingBuilderExtensions
{
    /// <summary>
    /// Registers <see cref="ReplicateBackend"/> as the generation backend <c>replicate</c> (keyed and in the list of
    /// backends), its named <see cref="HttpClient"/> (<see cref="ReplicateBackend.HttpClientName"/>) and its options,
    /// validated at start-up. Calling it again only applies <paramref name="configure"/>.
    /// </summary>
    /// <param name="builder">The Checkpointing builder.</param>
    /// <param name="configure">Sets the options; the token may also come from <c>REPLICATE_API_TOKEN</c>.</param>
    /// <returns>The builder.</returns>
    public static CheckpointingBuilder UseReplicate(this CheckpointingBuilder builder, Action<ReplicateOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        var options = services.AddOptions<ReplicateOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        if (services.Any(d => d.ServiceType == typeof(ReplicateMarker)))
        {
            return builder;
        }

        services.AddSingleton<ReplicateMarker>();
        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<ReplicateOptions>, ReplicateEnvironmentDefaults>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ReplicateOptions>, ReplicateOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddHttpClient(ReplicateBackend.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan);
        services.TryAddSingleton(sp => new ReplicateBackend(
            sp.GetRequiredService<IHttpClientFactory>(),
            sp.GetRequiredService<IOptions<ReplicateOptions>>().Value,
            (sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger<ReplicateBackend>(),
            sp.GetRequiredService<TimeProvider>()));
        builder.AddBackend<ReplicateBackend>(ReplicateBackend.BackendName);
        return builder;
    }

    private sealed class ReplicateMarker;

    private sealed class ReplicateEnvironmentDefaults : IPostConfigureOptions<ReplicateOptions>
    {
        public void PostConfigure(string? name, ReplicateOptions options)
        {
            if (string.IsNullOrWhiteSpace(options.ApiToken))
            {
                options.ApiToken = Environment.GetEnvironmentVariable(ReplicateOptions.ApiTokenEnvironmentVariable);
            }

            if (string.IsNullOrWhiteSpace(options.WebhookSecret))
            {
                options.WebhookSecret = Environment.GetEnvironmentVariable(ReplicateOptions.WebhookSecretEnvironmentVariable);
            }

            if (options.BaseUrl == ReplicateOptions.DefaultBaseUrl
                && Environment.GetEnvironmentVariable(ReplicateOptions.BaseUrlEnvironmentVariable) is { Length: > 0 } url
                && Uri.TryCreate(url, UriKind.Absolute, out var parsed))
            {
                options.BaseUrl = parsed;
            }
        }
    }
}
