using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Checkpointing.S3;

/// <summary>Validates <see cref="S3BlobStoreOptions"/>, reporting every problem at once with the setting, the value and the fix.</summary>
/// <param name="services">Tells whether an <c>IAmazonS3</c> is registered in DI (then the connection settings are not needed); optional.</param>
internal sealed partial class S3BlobStoreOptionsValidator(IServiceProviderIsService? services = null) : IValidateOptions<S3BlobStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, S3BlobStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = Check(options, clientGiven: services?.IsService(typeof(Amazon.S3.IAmazonS3)) == true);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Lists every problem of <paramref name="options"/>.</summary>
    /// <param name="options">The options.</param>
    /// <param name="clientGiven">Whether the caller passes an <c>IAmazonS3</c>, so the connection settings are not needed.</param>
    internal static List<string> Check(S3BlobStoreOptions options, bool clientGiven)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.BucketName))
        {
            errors.Add("S3BlobStoreOptions.BucketName is not set; set it to the name of an existing bucket (e.g. 'my-app-blobs').");
        }
        else if (!BucketPattern().IsMatch(options.BucketName) || options.BucketName.Contains("..", StringComparison.Ordinal))
        {
            errors.Add($"S3BlobStoreOptions.BucketName is '{options.BucketName}'; use 3-63 characters from a-z, 0-9, '.' and '-', starting and ending with a letter or digit.");
        }

        var prefix = options.KeyPrefix;
        if (prefix is null)
        {
            errors.Add("S3BlobStoreOptions.KeyPrefix is null; use an empty string for no prefix, or a prefix ending with '/' such as 'blobs/'.");
        }
        else if (prefix.Length > 0 && (!PrefixPattern().IsMatch(prefix) || !prefix.EndsWith('/') || prefix.StartsWith('/')
            || prefix.Contains("//", StringComparison.Ordinal) || prefix.Split('/').Any(s => s is "." or "..") || prefix.Length > 512))
        {
            errors.Add($"S3BlobStoreOptions.KeyPrefix is '{prefix}'; use at most 512 characters from a-z, A-Z, 0-9 and / ! - _ . * ' ( ), ending with '/' and not starting with '/', without empty, '.' or '..' segments (e.g. 'checkpointing/blobs/'), or leave it empty.");
        }

        if (!clientGiven)
        {
            if (!string.IsNullOrWhiteSpace(options.ServiceUrl)
                && (!Uri.TryCreate(options.ServiceUrl, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps) || url.Query.Length > 0))
            {
                errors.Add($"S3BlobStoreOptions.ServiceUrl is '{options.ServiceUrl}'; use an absolute http:// or https:// URL without a query, such as 'http://127.0.0.1:9000', or leave it empty for Amazon S3.");
            }

            if (string.IsNullOrWhiteSpace(options.ServiceUrl) && string.IsNullOrWhiteSpace(options.Region))
            {
                errors.Add("S3BlobStoreOptions.Region is not set; set it to the bucket's region (e.g. 'eu-west-1') for Amazon S3, or set ServiceUrl for an S3-compatible service.");
            }
            else if (!string.IsNullOrWhiteSpace(options.Region) && !RegionPattern().IsMatch(options.Region))
            {
                errors.Add($"S3BlobStoreOptions.Region is '{options.Region}'; use a region name such as 'us-east-1' or 'eu-west-1'.");
            }

            if (string.IsNullOrEmpty(options.AccessKey) != string.IsNullOrEmpty(options.SecretKey))
            {
                errors.Add(string.IsNullOrEmpty(options.AccessKey)
                    ? "S3BlobStoreOptions.SecretKey is set but AccessKey is not; set both, or neither to use the SDK's default credentials."
                    : "S3BlobStoreOptions.AccessKey is set but SecretKey is not; set both, or neither to use the SDK's default credentials.");
            }
        }

        if (options.MultipartThreshold is < 0 or > S3BlobStoreOptions.MaxBufferSize)
        {
            errors.Add($"S3BlobStoreOptions.MultipartThreshold is {options.MultipartThreshold}; set it between 0 and {S3BlobStoreOptions.MaxBufferSize} (1 GiB) bytes.");
        }

        if (options.PartSize is < S3BlobStoreOptions.MinPartSize or > S3BlobStoreOptions.MaxBufferSize)
        {
            errors.Add($"S3BlobStoreOptions.PartSize is {options.PartSize}; set it between {S3BlobStoreOptions.MinPartSize} (5 MiB, the S3 minimum) and {S3BlobStoreOptions.MaxBufferSize} (1 GiB) bytes.");
        }

        if (options.MaxConcurrentParts is < 1 or > S3BlobStoreOptions.MaxPartConcurrency)
        {
            errors.Add($"S3BlobStoreOptions.MaxConcurrentParts is {options.MaxConcurrentParts}; set it between 1 (one part at a time) and {S3BlobStoreOptions.MaxPartConcurrency}.");
        }

        if (options.MaxReadUrlLifetime <= TimeSpan.Zero || options.MaxReadUrlLifetime > TimeSpan.FromDays(7))
        {
            errors.Add($"S3BlobStoreOptions.MaxReadUrlLifetime is {options.MaxReadUrlLifetime}; set it above zero and at most 7 days (the longest a SigV4 presigned URL lives).");
        }

        if (options.ListPageSize is < 1 or > 1000)
        {
            errors.Add($"S3BlobStoreOptions.ListPageSize is {options.ListPageSize}; set it between 1 and 1000.");
        }

        return errors;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", RegexOptions.CultureInvariant)]
    private static partial Regex BucketPattern();

    [GeneratedRegex(@"^[A-Za-z0-9!\-_.*'()/]+$", RegexOptions.CultureInvariant)]
    private static partial Regex PrefixPattern();

    [GeneratedRegex("^[a-z]{2}(-[a-z0-9]+)+$", RegexOptions.CultureInvariant)]
    private static partial Regex RegionPattern();
}
