using Amazon.Runtime;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Checkpointing.S3;

/// <summary>Reports whether the S3 blob store's bucket answers now, by listing one key under its prefix.</summary>
/// <param name="store">The store to check.</param>
internal sealed class S3BlobStoreHealthCheck(S3BlobStore store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object> { ["bucket"] = store.BucketName, ["keyPrefix"] = store.KeyPrefix };
        try
        {
            await store.ProbeAsync(cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy($"S3 bucket '{store.BucketName}' answers.", data);
        }
        catch (Exception e) when (e is S3BlobStoreException or AmazonClientException or HttpRequestException or IOException or TimeoutException)
        {
            var message = e is S3BlobStoreException
                ? e.Message
                : $"S3 bucket '{store.BucketName}' did not answer ({e.Message.TrimEnd('.')}); check that the service is up and S3BlobStoreOptions.ServiceUrl or the region is right.";
            return new HealthCheckResult(context.Registration.FailureStatus, message, e, data);
        }
    }
}
