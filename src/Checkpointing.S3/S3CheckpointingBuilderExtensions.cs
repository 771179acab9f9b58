using Amazon.S3;
using Checkpointing.S3;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Checkpointing;

/// <summary>Adds the S3 blob store to the Checkpointing SDK.</summary>
public static class S3CheckpointingBuilderExtensions
{
    /// <summary>
    /// Keeps blobs in an S3 bucket (Amazon S3 or any S3-compatible service), replacing the default file-system store.
    /// When an <see cref="IAmazonS3"/> is registered in DI the store uses it (and ignores the connection settings);
    /// otherwise it builds its own client from the options.
    /// </summary>
    /// <param name="builder">The Checkpointing builder.</param>
    /// <param name="configure">Sets the <see cref="S3BlobStoreOptions"/>; they are validated at start-up, every problem reported at once.</param>
    /// <returns>The builder.</returns>
    public static CheckpointingBuilder UseS3(this CheckpointingBuilder builder, Action<S3BlobStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.AddOptions<S3BlobStoreOptions>().Configure(configure).ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<S3BlobStoreOptions>, S3BlobStoreOptionsValidator>());
        builder.Services.TryAddSingleton(Create);
        return builder.UseBlobStore(sp => sp.GetRequiredService<S3BlobStore>());
    }

    private static S3BlobStore Create(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<S3BlobStoreOptions>>().Value;
        var loggerFactory = services.GetService<ILoggerFactory>();
        var time = services.GetService<TimeProvider>();
        var client = services.GetService<IAmazonS3>();
        return client is null ? new S3BlobStore(options, loggerFactory, time) : new S3BlobStore(client, options, loggerFactory, time);
    }
}
