using Amazon.Runtime;
using Amazon.S3;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Checkpointing.S3.Tests;

public sealed class S3OptionsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Defaults()
    {
        var options = new S3BlobStoreOptions();

        Assert.Null(options.BucketName);
        Assert.Equal("", options.KeyPrefix);
        Assert.Null(options.ServiceUrl);
        Assert.Null(options.Region);
        Assert.False(options.ForcePathStyle);
        Assert.Null(options.ChecksumCalculation);
        Assert.Null(options.AccessKey);
        Assert.Null(options.SecretKey);
        Assert.Equal(16 * 1024 * 1024, options.MultipartThreshold);
        Assert.Equal(6 * 1024 * 1024, options.PartSize);
        Assert.Equal(4, options.MaxConcurrentParts);
        Assert.Equal(TimeSpan.FromHours(1), options.MaxReadUrlLifetime);
        Assert.Equal(1000, options.ListPageSize);
        Assert.Null(options.ConfigureClient);
    }

    [Fact]
    public void Nothing_set_is_refused_with_what_to_set()
    {
        var failures = new S3BlobStoreOptionsValidator().Validate(null, new S3BlobStoreOptions()).Failures!.ToList();

        Assert.Equal(
        [
            "S3BlobStoreOptions.BucketName is not set; set it to the name of an existing bucket (e.g. 'my-app-blobs').",
            "S3BlobStoreOptions.Region is not set; set it to the bucket's region (e.g. 'eu-west-1') for Amazon S3, or set ServiceUrl for an S3-compatible service.",
        ], failures);
    }

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        var options = new S3BlobStoreOptions
        {
            BucketName = "Bad_Bucket",
            KeyPrefix = "/blobs",
            ServiceUrl = "localhost:9000",
            Region = "Europe",
            AccessKey = "key",
            MultipartThreshold = -1,
            PartSize = 1024,
            MaxConcurrentParts = 0,
            MaxReadUrlLifetime = TimeSpan.FromDays(8),
            ListPageSize = 5000,
        };

        var failures = new S3BlobStoreOptionsValidator().Validate(null, options).Failures!.ToList();

        Assert.Equal(
        [
            "S3BlobStoreOptions.BucketName is 'Bad_Bucket'; use 3-63 characters from a-z, 0-9, '.' and '-', starting and ending with a letter or digit.",
            "S3BlobStoreOptions.KeyPrefix is '/blobs'; use at most 512 characters from a-z, A-Z, 0-9 and / ! - _ . * ' ( ), ending with '/' and not starting with '/', without empty, '.' or '..' segments (e.g. 'checkpointing/blobs/'), or leave it empty.",
            "S3BlobStoreOptions.ServiceUrl is 'localhost:9000'; use an absolute http:// or https:// URL without a query, such as 'http://127.0.0.1:9000', or leave it empty for Amazon S3.",
            "S3BlobStoreOptions.Region is 'Europe'; use a region name such as 'us-east-1' or 'eu-west-1'.",
            "S3BlobStoreOptions.AccessKey is set but SecretKey is not; set both, or neither to use the SDK's default credentials.",
            "S3BlobStoreOptions.MultipartThreshold is -1; set it between 0 and 1073741824 (1 GiB) bytes.",
            "S3BlobStoreOptions.PartSize is 1024; set it between 5242880 (5 MiB, the S3 minimum) and 1073741824 (1 GiB) bytes.",
            "S3BlobStoreOptions.MaxConcurrentParts is 0; set it between 1 (one part at a time) and 64.",
            "S3BlobStoreOptions.MaxReadUrlLifetime is 8.00:00:00; set it above zero and at most 7 days (the longest a SigV4 presigned URL lives).",
            "S3BlobStoreOptions.ListPageSize is 5000; set it between 1 and 1000.",
        ], failures);
    }

    [Theory]
    [InlineData("blobs")]
    [InlineData("a//b/")]
    [InlineData("a/../b/")]
    [InlineData("./")]
    [InlineData("spa ce/")]
    [InlineData("ünï/")]
    public void Unsafe_key_prefixes_are_refused(string prefix)
    {
        var result = new S3BlobStoreOptionsValidator().Validate(null, new S3BlobStoreOptions { BucketName = "b-1", Region = "us-east-1", KeyPrefix = prefix });

        Assert.StartsWith($"S3BlobStoreOptions.KeyPrefix is '{prefix}'; use at most 512 characters", Assert.Single(result.Failures!), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("blobs/")]
    [InlineData("tenant-a/checkpointing/blobs/")]
    public void Usable_key_prefixes_pass(string prefix)
    {
        var result = new S3BlobStoreOptionsValidator().Validate(null, new S3BlobStoreOptions { BucketName = "my.bucket-1", Region = "eu-west-1", KeyPrefix = prefix });

        Assert.True(result.Succeeded, string.Join("; ", result.Failures ?? []));
    }

    [Theory]
    [InlineData(-1, false)]
    [InlineData(0, false)]
    [InlineData(1, true)]
    [InlineData(64, true)]
    [InlineData(65, false)]
    public void MaxConcurrentParts_is_between_1_and_64(int value, bool valid)
    {
        var result = new S3BlobStoreOptionsValidator().Validate(null, new S3BlobStoreOptions { BucketName = "b-1", Region = "us-east-1", MaxConcurrentParts = value });

        if (valid)
        {
            Assert.True(result.Succeeded, string.Join("; ", result.Failures ?? []));
        }
        else
        {
            Assert.Equal($"S3BlobStoreOptions.MaxConcurrentParts is {value}; set it between 1 (one part at a time) and 64.", Assert.Single(result.Failures!));
        }
    }

    [Fact]
    public void UseS3_refuses_MaxConcurrentParts_out_of_range_at_start_up()
    {
        var services = new ServiceCollection();
        services.AddCheckpointing(b => b.UseS3(o =>
        {
            o.BucketName = "b-1";
            o.Region = "us-east-1";
            o.MaxConcurrentParts = 65;
        }));
        using var provider = services.BuildServiceProvider();

        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IBlobStore>());

        Assert.Equal("S3BlobStoreOptions.MaxConcurrentParts is 65; set it between 1 (one part at a time) and 64.", Assert.Single(e.Failures));
    }

    [Fact]
    public void The_store_constructor_refuses_invalid_options_with_every_message()
    {
        var e = Assert.Throws<InvalidOperationException>(() => new S3BlobStore(new S3BlobStoreOptions { BucketName = "ok-bucket", ServiceUrl = "http://127.0.0.1:1", PartSize = 0, ListPageSize = 0 }));

        Assert.Equal(
            "S3BlobStoreOptions.PartSize is 0; set it between 5242880 (5 MiB, the S3 minimum) and 1073741824 (1 GiB) bytes." + Environment.NewLine +
            "S3BlobStoreOptions.ListPageSize is 0; set it between 1 and 1000.",
            e.Message);
    }

    [Fact]
    public void With_a_client_given_the_connection_settings_are_not_needed()
    {
        using var client = new AmazonS3Client(new BasicAWSCredentials("a", "b"), new AmazonS3Config { ServiceURL = "http://127.0.0.1:1" });

        using var store = new S3BlobStore(client, new S3BlobStoreOptions { BucketName = "ok-bucket" });

        Assert.Equal("ok-bucket", store.BucketName);
    }

    [Fact]
    public void The_client_config_carries_the_settings_real_S3_compatible_services_need()
    {
        var config = S3BlobStore.CreateClientConfig(new S3BlobStoreOptions
        {
            BucketName = "b-1",
            ServiceUrl = "http://127.0.0.1:9000",
            ForcePathStyle = true,
            ChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ConfigureClient = c => c.MaxErrorRetry = 7,
        });

        Assert.StartsWith("http://127.0.0.1:9000", config.ServiceURL, StringComparison.Ordinal);
        Assert.True(config.ForcePathStyle);
        Assert.Equal("us-east-1", config.AuthenticationRegion);
        Assert.Equal(RequestChecksumCalculation.WHEN_REQUIRED, config.RequestChecksumCalculation);
        Assert.Equal(7, config.MaxErrorRetry);
        Assert.Equal("eu-central-1", S3BlobStore.CreateClientConfig(new S3BlobStoreOptions { Region = "eu-central-1" }).RegionEndpoint.SystemName);
    }

    [Fact]
    public void UseS3_registers_the_store_and_validates_the_options_at_start_up()
    {
        var services = new ServiceCollection();
        services.AddCheckpointing(b => b.UseS3(o => o.PartSize = 1));
        using var provider = services.BuildServiceProvider();

        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IBlobStore>());

        Assert.Contains("S3BlobStoreOptions.BucketName is not set", e.Message, StringComparison.Ordinal);
        Assert.Contains("S3BlobStoreOptions.PartSize is 1;", e.Message, StringComparison.Ordinal);
        Assert.Single(services, d => d.ServiceType == typeof(IBlobStore));
    }

    [Fact]
    public async Task UseS3_uses_an_IAmazonS3_from_DI_and_then_needs_no_connection_settings()
    {
        await S3Server.RequireAsync();
        using var client = S3Server.CreateClient();
        var prefix = S3Server.NewPrefix();
        var services = new ServiceCollection();
        services.AddSingleton<IAmazonS3>(client);
        services.AddCheckpointing(b => b.UseS3(o =>
        {
            o.BucketName = S3Server.Bucket;
            o.KeyPrefix = prefix;
        }));
        await using var provider = services.BuildServiceProvider();

        var store = Assert.IsType<S3BlobStore>(provider.GetRequiredService<IBlobStore>());
        var reference = await store.PutAsync(new MemoryStream([1, 2, 3]), MediaTypes.OctetStream, Ct);

        Assert.Equal([prefix + reference.Hash], await S3Server.KeysAsync(prefix));
    }

    [Fact]
    public async Task UseS3_builds_its_own_client_from_the_options()
    {
        await S3Server.RequireAsync();
        var expected = S3Server.Options();
        var services = new ServiceCollection();
        services.AddCheckpointing(b => b.UseS3(o =>
        {
            o.BucketName = expected.BucketName;
            o.KeyPrefix = expected.KeyPrefix;
            o.ServiceUrl = expected.ServiceUrl;
            o.ForcePathStyle = true;
            o.ChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED;
            o.AccessKey = expected.AccessKey;
            o.SecretKey = expected.SecretKey;
        }));
        await using var provider = services.BuildServiceProvider();

        var store = provider.GetRequiredService<IBlobStore>();
        var reference = await store.PutAsync(new MemoryStream([4, 5, 6]), MediaTypes.OctetStream, Ct);

        Assert.True(await store.ExistsAsync(reference.Hash, Ct));
    }
}
