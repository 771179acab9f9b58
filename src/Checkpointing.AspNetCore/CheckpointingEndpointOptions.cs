using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Checkpointing.AspNetCore;

/// <summary>Options of <see cref="Microsoft.AspNetCore.Builder.CheckpointingEndpointRouteBuilderExtensions.MapCheckpointing"/> and the review page.</summary>
public sealed class CheckpointingEndpointOptions
{
    /// <summary>
    /// Tells who the caller is: the owner id of the runs they may see and change. Returning null refuses the request
    /// with 401. Every endpoint checks that the run it touches belongs to this owner; another owner's run answers 404,
    /// as an unknown id does.
    /// </summary>
    /// <value>Default: the caller's <see cref="ClaimTypes.NameIdentifier"/> claim, else <c>User.Identity.Name</c>.</value>
    public Func<HttpContext, string?> OwnerResolver { get; set; } = DefaultOwner;

    /// <summary>
    /// Whether <c>POST …/continue</c> queues the next phase for a <see cref="CheckpointWorker"/> and answers 202 with the
    /// run's <c>Location</c> at once, instead of running the phase inside the request and answering 200. Turn it on when
    /// the host (or another process on the same store) runs a worker (<c>AddCheckpointingWorker</c>).
    /// </summary>
    /// <value>Default: false.</value>
    public bool QueueContinuations { get; set; }

    /// <summary>Whether every endpoint requires an authenticated caller (<c>RequireAuthorization</c>).</summary>
    /// <value>Default: true. Set false only for a host that authenticates otherwise (or a single-user local tool).</value>
    public bool RequireAuthorization { get; set; } = true;

    /// <summary>The authorization policy the endpoints require, or null for the default policy.</summary>
    /// <value>Default: null.</value>
    public string? AuthorizationPolicy { get; set; }

    /// <summary>The largest upload request accepted, in bytes (Kestrel's request body limit for the upload endpoint).</summary>
    /// <remarks>The artifact type's own limit (<see cref="ArtifactSpec.MaxBytes"/>) applies too; the smaller one wins.</remarks>
    /// <value>Default: 256 MiB. Must be between 1 KiB and 16 GiB.</value>
    public long MaxUploadRequestBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>The largest JSON request body accepted (a merge patch, a regenerate or continue request), in bytes.</summary>
    /// <value>Default: 1 MiB. Must be between 1 KiB and 64 MiB.</value>
    public int MaxJsonBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>The most runs <c>GET /runs</c> returns.</summary>
    /// <value>Default: 100. Must be between 1 and 10,000.</value>
    public int MaxRunsListed { get; set; } = 100;

    /// <summary>The default owner resolver: the name identifier claim, else the identity's name.</summary>
    /// <param name="context">The request.</param>
    /// <returns>The owner id, or null when the caller is anonymous.</returns>
    public static string? DefaultOwner(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var user = context.User;
        return user.FindFirstValue(ClaimTypes.NameIdentifier) is { Length: > 0 } id ? id
            : user.Identity is { IsAuthenticated: true, Name: { Length: > 0 } name } ? name
            : null;
    }
}

internal sealed class CheckpointingEndpointOptionsValidator : IValidateOptions<CheckpointingEndpointOptions>
{
    public ValidateOptionsResult Validate(string? name, CheckpointingEndpointOptions options)
    {
        var errors = new List<string>();
        if (options.OwnerResolver is null)
        {
            errors.Add("CheckpointingEndpointOptions.OwnerResolver is null; set it to a function that returns the caller's owner id (or keep the default, which reads the NameIdentifier claim).");
        }

        if (options.MaxUploadRequestBytes is < 1024 or > 16L * 1024 * 1024 * 1024)
        {
            errors.Add($"CheckpointingEndpointOptions.MaxUploadRequestBytes is {options.MaxUploadRequestBytes}; set it between 1024 (1 KiB) and 17179869184 (16 GiB).");
        }

        if (options.MaxJsonBodyBytes is < 1024 or > 64 * 1024 * 1024)
        {
            errors.Add($"CheckpointingEndpointOptions.MaxJsonBodyBytes is {options.MaxJsonBodyBytes}; set it between 1024 (1 KiB) and 67108864 (64 MiB).");
        }

        if (options.MaxRunsListed is < 1 or > 10_000)
        {
            errors.Add($"CheckpointingEndpointOptions.MaxRunsListed is {options.MaxRunsListed}; set it between 1 and 10000.");
        }

        if (options.AuthorizationPolicy is { } policy && string.IsNullOrWhiteSpace(policy))
        {
            errors.Add("CheckpointingEndpointOptions.AuthorizationPolicy is blank; set a policy name or null for the default policy.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
