using Checkpointing.S3;
using Checkpointing.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds a health check for the Checkpointing SDK's S3 blob store.</summary>
public static class S3HealthChecksBuilderExtensions
{
    /// <summary>The name the check is registered under unless another is given.</summary>
    public const string DefaultName = "checkpointing-s3";

    /// <summary>
    /// Checks the S3 blob store registered with <c>UseS3</c>: healthy when the service answers a one-key listing of the
    /// store's bucket and prefix (so the address, the credentials, the bucket and the list permission are right);
    /// otherwise <paramref name="failureStatus"/> with the store's error, which says what to do. The result's data holds
    /// the bucket and the key prefix.
    /// </summary>
    /// <param name="builder">The health checks builder from <c>services.AddHealthChecks()</c>.</param>
    /// <param name="name">The check's name. Default: <see cref="DefaultName"/>.</param>
    /// <param name="failureStatus">The status reported when the check fails. Default: <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">Tags to filter checks by, e.g. <c>ready</c>; optional.</param>
    /// <param name="timeout">How long the check may take before it fails; optional (the S3 client's own timeouts and retries apply).</param>
    /// <returns>The builder.</returns>
    /// <exception cref="InvalidOperationException">When the check runs: no S3 blob store is registered (call <c>UseS3</c>).</exception>
    public static IHealthChecksBuilder AddCheckpointingS3(
        this IHealthChecksBuilder builder,
        string name = DefaultName,
        HealthStatus? failureStatus = null,
        IEnumerable<string>? tags = null,
        TimeSpan? timeout = null)
    {
        return ProbeHealthCheck.Register<S3BlobStore>(
            builder, name, failureStatus, tags, timeout, "S3 blob store", "UseS3",
            store => new ProbeHealthCheck(
                async ct =>
                {
                    await store.ProbeAsync(ct).ConfigureAwait(false);
                    return ($"S3 bucket '{store.BucketName}' answers.", null);
                },
                new Dictionary<string, object> { ["bucket"] = store.BucketName, ["keyPrefix"] = store.KeyPrefix },
                e => e switch
                {
                    S3BlobStoreException => e.Message,
                    Amazon.Runtime.AmazonClientException or HttpRequestException or IOException or TimeoutException =>
                        $"S3 bucket '{store.BucketName}' did not answer ({e.Message.TrimEnd('.')}); check that the service is up and S3BlobStoreOptions.ServiceUrl or the region is right.",
                    _ => null,
                }));
    }
}
