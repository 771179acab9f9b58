using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using VideoPipeline.Tests.Support;

namespace VideoPipeline.Tests;

/// <summary>
/// The whole pipeline with its blobs in S3, chosen by configuration alone (<c>Checkpointing__BlobStore=s3</c> and the
/// <c>Checkpointing__S3__*</c> options of Checkpointing.S3), the sample run as a process against the S3 emulator that
/// test.sh starts (<c>CHECKPOINTING_S3_URL</c>). The studio reads each clip's first frame from the blob store, so no
/// blob touches the local data folder.
/// </summary>
public sealed class S3BlobStoreTests
{
    private const string Bucket = "videopipeline-tests";

    private static string Url => Environment.GetEnvironmentVariable("CHECKPOINTING_S3_URL") is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException("CHECKPOINTING_S3_URL is not set: run ./test.sh, which starts an S3 emulator, or `. tests/infra/s3.sh; s3_start`.");

    private static string AccessKey => Environment.GetEnvironmentVariable("CHECKPOINTING_S3_ACCESS_KEY") ?? "S3RVER";

    private static string SecretKey => Environment.GetEnvironmentVariable("CHECKPOINTING_S3_SECRET_KEY") ?? "S3RVER";

    [Fact]
    public async Task A_run_on_the_S3_blob_store_keeps_every_image_and_clip_in_the_bucket_and_clips_start_from_their_beat()
    {
        var ct = TestContext.Current.CancellationToken;
        using var client = await CreateBucketAsync(ct);
        var prefix = $"sample-{Guid.NewGuid():N}/";
        using var app = new SampleApp();
        app.Environment["Media__Ffmpeg"] = "off";
        app.Environment["Checkpointing__BlobStore"] = "s3";
        app.Environment["Checkpointing__S3__BucketName"] = Bucket;
        app.Environment["Checkpointing__S3__KeyPrefix"] = prefix;
        app.Environment["Checkpointing__S3__ServiceUrl"] = Url;
        app.Environment["Checkpointing__S3__Region"] = "us-east-1";
        app.Environment["Checkpointing__S3__ForcePathStyle"] = "true";
        app.Environment["Checkpointing__S3__ChecksumCalculation"] = "WHEN_REQUIRED";
        app.Environment["Checkpointing__S3__AccessKey"] = AccessKey;
        app.Environment["Checkpointing__S3__SecretKey"] = SecretKey;

        var output = (await app.SucceedAsync("run", "--auto-continue", "--beats", "2", "--duration", "4")).Stdout;
        var storyboard = Ids.Find(output, @"checkpoint {id} saved: phase 2 on main,");
        var chunks = Ids.Find(output, @"checkpoint {id} saved: phase 3 on main,");
        var final = Ids.Find(output, @"the final cut is checkpoint {id}");
        var folder = app.Scratch("export");
        await app.SucceedAsync("export", storyboard, folder);
        await app.SucceedAsync("export", chunks, folder);
        await app.SucceedAsync("export", final, folder);

        // The exported files are real media, read back from S3.
        for (var i = 1; i <= 2; i++)
        {
            var beat = MediaProbe.Decode(await File.ReadAllBytesAsync(Path.Combine(folder, $"beat_{i}.png"), ct));
            var clip = MediaProbe.DecodeFrames(await File.ReadAllBytesAsync(Path.Combine(folder, $"chunk_{i}.apng"), ct));
            Assert.Equal((256, 144), (beat.Width, beat.Height));
            Assert.Equal(beat, clip[0]);
        }

        Assert.NotNull(MediaProbe.ReadPng(await File.ReadAllBytesAsync(Path.Combine(folder, "final.apng"), ct)).AnimationFrames);

        // Every blob is an object in the bucket, named by the hash of its bytes; none is on the local disk.
        var keys = new List<string>();
        var page = await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = Bucket, Prefix = prefix }, ct);
        keys.AddRange((page.S3Objects ?? []).Select(o => o.Key).Where(k => !k.Contains("/.tmp/", StringComparison.Ordinal)));
        Assert.Equal(5, keys.Count); // 2 beat images, 2 clips, the final cut
        foreach (var key in keys)
        {
            using var get = await client.GetObjectAsync(Bucket, key, ct);
            using var bytes = new MemoryStream();
            await get.ResponseStream.CopyToAsync(bytes, ct);
            Assert.EndsWith(Convert.ToHexStringLower(SHA256.HashData(bytes.ToArray())), key, StringComparison.Ordinal);
            Assert.True(MediaProbe.IsPng(bytes.ToArray()), $"{key} is not a PNG");
        }

        Assert.False(Directory.Exists(app.BlobPath) && Directory.EnumerateFiles(app.BlobPath, "*", SearchOption.AllDirectories).Any(), "blobs were written to the local data folder");
    }

    [Fact]
    public async Task Invalid_S3_settings_are_one_error_line_at_start_up()
    {
        using var app = new SampleApp();
        app.Environment["Checkpointing__BlobStore"] = "s3";
        app.Environment["Checkpointing__S3__BucketName"] = "Bad_Bucket";
        app.Environment["Checkpointing__S3__ServiceUrl"] = "http://127.0.0.1:9";

        var result = await app.RunAsync("runs");

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains("BucketName is 'Bad_Bucket'", line, StringComparison.Ordinal);
    }

    private static async Task<AmazonS3Client> CreateBucketAsync(CancellationToken ct)
    {
        var client = new AmazonS3Client(new BasicAWSCredentials(AccessKey, SecretKey), new AmazonS3Config
        {
            ServiceURL = Url,
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
        });
        try
        {
            await client.PutBucketAsync(new PutBucketRequest { BucketName = Bucket }, ct);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode is "BucketAlreadyOwnedByYou" or "BucketAlreadyExists")
        {
            // Made by an earlier test against the same server.
        }

        return client;
    }
}
