using Microsoft.Extensions.Options;

namespace Checkpointing;

/// <summary>Options of the runner, editor and queries.</summary>
public sealed class CheckpointingOptions
{
    /// <summary>How long read URLs returned by <see cref="CheckpointQueries.GetCheckpointAsync"/> stay valid.</summary>
    /// <value>Default: 15 minutes. Must be between 1 second and 7 days.</value>
    public TimeSpan ReadUrlLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How many times an edit is re-applied when another writer changed the artifact first (only when the caller passed no expected version).</summary>
    /// <value>Default: 100. Must be at least 1.</value>
    public int MaxEditAttempts { get; set; } = 100;

    /// <summary>The default number of units a unit-based phase runs at once, when the phase does not say.</summary>
    /// <value>Default: 4. Must be between 1 and 256.</value>
    public int DefaultMaxConcurrency { get; set; } = 4;

    /// <summary>
    /// The largest inline JSON value accepted, in bytes of UTF-8 text: a run's input, a merge patch and its result, and
    /// JSON a phase stores. An <see cref="ArtifactSpec.MaxJsonBytes"/> overrides it for one artifact type.
    /// </summary>
    /// <value>Default: 1 MiB. Must be between 1 KiB and 64 MiB.</value>
    public long MaxInlineJsonBytes { get; set; } = 1024 * 1024;

    /// <summary>The longest free text accepted, in characters: prompts (and prompt overrides), model names, descriptions.</summary>
    /// <value>Default: 16384. Must be between 16 and 1048576.</value>
    public int MaxTextLength { get; set; } = 16 * 1024;

    /// <summary>The longest identity accepted, in characters: owner ids, who continues or edits (requester, editor).</summary>
    /// <value>Default: 256. Must be between 1 and 512 (stores index owner ids).</value>
    public int MaxIdentityLength { get; set; } = 256;

    /// <summary>
    /// How long an executor's lease on a run lasts without renewal. The executor renews it every third of this while a
    /// phase runs; when its process dies, the run reads as interrupted once this has passed, and another executor (a
    /// retry, a continue, a worker) may take it over.
    /// </summary>
    /// <value>Default: 30 seconds. Must be between 1 second and 1 hour.</value>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The name this process's executor claims runs under, shown as <see cref="Run.LeaseOwner"/>. Default:
    /// <c>{machine}/{process id}/{random}</c>, unique per process start.
    /// </summary>
    /// <value>Default: null (generated). At most 200 characters.</value>
    public string? ExecutorName { get; set; }
}

internal sealed class CheckpointingOptionsValidator : IValidateOptions<CheckpointingOptions>
{
    public ValidateOptionsResult Validate(string? name, CheckpointingOptions options)
    {
        var errors = new List<string>();
        if (options.ReadUrlLifetime < TimeSpan.FromSeconds(1) || options.ReadUrlLifetime > TimeSpan.FromDays(7))
        {
            errors.Add($"CheckpointingOptions.ReadUrlLifetime is {options.ReadUrlLifetime}; set it between 00:00:01 and 7.00:00:00.");
        }

        if (options.MaxEditAttempts < 1)
        {
            errors.Add($"CheckpointingOptions.MaxEditAttempts is {options.MaxEditAttempts}; set it to 1 or more.");
        }

        if (options.DefaultMaxConcurrency is < 1 or > 256)
        {
            errors.Add($"CheckpointingOptions.DefaultMaxConcurrency is {options.DefaultMaxConcurrency}; set it between 1 and 256.");
        }

        if (options.MaxInlineJsonBytes is < 1024 or > 64L * 1024 * 1024)
        {
            errors.Add($"CheckpointingOptions.MaxInlineJsonBytes is {options.MaxInlineJsonBytes}; set it between 1024 and 67108864.");
        }

        if (options.MaxTextLength is < 16 or > 1024 * 1024)
        {
            errors.Add($"CheckpointingOptions.MaxTextLength is {options.MaxTextLength}; set it between 16 and 1048576.");
        }

        if (options.MaxIdentityLength is < 1 or > 512)
        {
            errors.Add($"CheckpointingOptions.MaxIdentityLength is {options.MaxIdentityLength}; set it between 1 and 512.");
        }

        if (options.LeaseDuration < TimeSpan.FromSeconds(1) || options.LeaseDuration > TimeSpan.FromHours(1))
        {
            errors.Add($"CheckpointingOptions.LeaseDuration is {options.LeaseDuration}; set it between 00:00:01 and 01:00:00.");
        }

        if (options.ExecutorName is { } executor && (string.IsNullOrWhiteSpace(executor) || executor.Length > Storage.RunLease.MaxOwnerLength))
        {
            errors.Add($"CheckpointingOptions.ExecutorName must be 1 to {Storage.RunLease.MaxOwnerLength} characters, not blank; leave it null for a generated name.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

internal sealed class FileSystemBlobStoreOptionsValidator : IValidateOptions<FileSystemBlobStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, FileSystemBlobStoreOptions options) =>
        string.IsNullOrWhiteSpace(options.RootPath)
            ? ValidateOptionsResult.Fail("FileSystemBlobStoreOptions.RootPath is empty; set it to the folder that should hold the blobs.")
            : ValidateOptionsResult.Success;
}
