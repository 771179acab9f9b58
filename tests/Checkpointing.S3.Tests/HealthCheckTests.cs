using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Checkpointing.S3.Tests;

public sealed class HealthCheckTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<HealthReportEntry> CheckAsync(IServiceProvider services) =>
        (await services.GetRequiredService<HealthCheckService>().CheckHealthAsync(Ct)).Entries[S3HealthChecksBuilderExtensions.DefaultName];

    private static void Configure(S3BlobStoreOptions o, string url)
    {
        o.BucketName = "health";
        o.KeyPrefix = "blobs/";
        o.ServiceUrl = url;
        o.ForcePathStyle = true;
        o.ChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED;
        o.AccessKey = "S3RVER";
        o.SecretKey = "S3RVER";
        o.ConfigureClient = c => c.MaxErrorRetry = 0; // report an outage at once
    }

    [Fact]
    public async Task The_check_is_unhealthy_while_the_emulator_is_stopped_and_healthy_again_when_it_is_back()
    {
        await using var server = await PrivateS3Server.StartAsync();
        var services = new ServiceCollection().AddLogging();
        services.AddCheckpointing(b => b.UseS3(o => Configure(o, server.Url)));
        services.AddHealthChecks().AddCheckpointingS3(tags: ["ready"]);
        await using var provider = services.BuildServiceProvider(validateScopes: true);

        var noBucket = await CheckAsync(provider);
        Assert.Equal(HealthStatus.Unhealthy, noBucket.Status);
        Assert.Contains("the bucket does not exist: create it, or fix S3BlobStoreOptions.BucketName", noBucket.Description, StringComparison.Ordinal);

        using (var client = new AmazonS3Client(new BasicAWSCredentials("S3RVER", "S3RVER"), S3BlobStore.CreateClientConfig(new S3BlobStoreOptions { ServiceUrl = server.Url, ForcePathStyle = true })))
        {
            await client.PutBucketAsync(new PutBucketRequest { BucketName = "health" }, Ct);
        }

        var healthy = await CheckAsync(provider);
        Assert.Equal(HealthStatus.Healthy, healthy.Status);
        Assert.Equal("health", healthy.Data["bucket"]);
        Assert.Equal("blobs/", healthy.Data["keyPrefix"]);
        Assert.Equal(["ready"], healthy.Tags);

        await server.HaltAsync();
        var down = await CheckAsync(provider);
        Assert.Equal(HealthStatus.Unhealthy, down.Status);
        Assert.StartsWith("S3 bucket 'health' did not answer (", down.Description, StringComparison.Ordinal);
        Assert.EndsWith("); check that the service is up and S3BlobStoreOptions.ServiceUrl or the region is right.", down.Description, StringComparison.Ordinal);

        await server.ResumeAsync();
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(provider)).Status);
    }

    [Fact]
    public async Task Without_the_s3_store_the_check_says_how_to_register_it()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddCheckpointing(_ => { });
        services.AddHealthChecks().AddCheckpointingS3();
        await using var provider = services.BuildServiceProvider();

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => provider.GetRequiredService<HealthCheckService>().CheckHealthAsync(Ct));

        Assert.Equal(
            "The health check 'checkpointing-s3' checks the Checkpointing S3 blob store, but none is registered. Register it with services.AddCheckpointing(b => b.UseS3(...)).",
            e.Message);
    }
}
