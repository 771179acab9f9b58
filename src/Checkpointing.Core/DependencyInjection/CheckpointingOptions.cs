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
