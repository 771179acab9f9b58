using Checkpointing;
using Checkpointing.AspNetCore;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the Checkpointing review API and the review page.</summary>
public static class CheckpointingEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the review API under <paramref name="prefix"/>: runs, checkpoints, branches, the tree and status, continue,
    /// JSON merge patch, uploads, unit regeneration, artifact history and content (with ranges), and an SSE status
    /// stream. Each endpoint makes one SDK call; SDK exceptions answer as RFC 9457 problem details (see
    /// <see cref="CheckpointingProblemTypes"/>).
    /// </summary>
    /// <param name="endpoints">The application.</param>
    /// <param name="prefix">The route prefix, e.g. <c>/api</c>.</param>
    /// <returns>The route group, to add conventions (CORS, rate limiting, a different authorization policy).</returns>
    /// <exception cref="InvalidOperationException">AddCheckpointing was not called, or the options are invalid.</exception>
    /// <remarks>
    /// Options come from <see cref="CheckpointingEndpointServiceCollectionExtensions.AddCheckpointingEndpoints"/> (or defaults).
    /// With <see cref="CheckpointingEndpointOptions.RequireAuthorization"/> on (the default) the host needs
    /// <c>AddAuthentication</c>/<c>AddAuthorization</c>.
    /// </remarks>
    public static RouteGroupBuilder MapCheckpointing(this IEndpointRouteBuilder endpoints, string prefix = "/api")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var services = endpoints.ServiceProvider;
        if (services.GetService<CheckpointRunner>() is null)
        {
            throw new InvalidOperationException("MapCheckpointing needs the Checkpointing SDK: call builder.Services.AddCheckpointing(...) before building the app.");
        }

        var options = Options(services);
        var normalized = Normalize(prefix);
        var log = services.GetRequiredService<ILoggerFactory>().CreateLogger("Checkpointing.AspNetCore");
        var h = new CheckpointingEndpoints(normalized, options, log);
        var group = endpoints.MapGroup(normalized).WithTags("Checkpointing");
        group.AddEndpointFilter(async (context, next) =>
        {
            try
            {
                return await next(context).ConfigureAwait(false);
            }
            catch (Exception e) when (e is CheckpointingException or BadHttpRequestException or ArgumentException or HttpProblemException)
            {
                var http = context.HttpContext;
                var problem = e is HttpProblemException p
                    ? Checkpointing.AspNetCore.Problems.Create(http, p.Status, p.Type, p.Title, p.Message)
                    : Checkpointing.AspNetCore.Problems.From(e, http);
                log.Refused(http.Request.Method, http.Request.Path, problem.StatusCode, problem.ProblemDetails.Type ?? "", problem.ProblemDetails.Detail ?? "");
                return problem;
            }
        });

        if (options.RequireAuthorization)
        {
            if (options.AuthorizationPolicy is { } policy)
            {
                group.RequireAuthorization(policy);
            }
            else
            {
                group.RequireAuthorization();
            }
        }

        group.MapGet("/runs", h.ListRuns).WithName("ListRuns").WithSummary("Lists the caller's runs, newest first.");
        group.MapPost("/runs", h.StartRun).WithName("StartRun").WithSummary("Starts a run of a pipeline for the caller.")
            .Accepts<StartRunBody>("application/json").WithProblems(404, 415, 422);
        group.MapGet("/runs/{runId:guid}", h.GetStatus).WithName("GetRunStatus").WithSummary("The run's status: current checkpoint, tree, branches and cost.").WithProblems(404);
        group.MapGet("/runs/{runId:guid}/checkpoints", h.ListCheckpoints).WithName("ListCheckpoints").WithSummary("The run's checkpoints in creation order, optionally of one branch.").WithProblems(404);
        group.MapGet("/runs/{runId:guid}/checkpoints/current", h.GetCurrent).WithName("GetCurrentCheckpoint").WithSummary("The checkpoint awaiting review (204 when none).").WithProblems(404);
        group.MapGet("/runs/{runId:guid}/branches", h.ListBranches).WithName("ListBranches").WithSummary("The run's branches with their leaf checkpoints and whether they can continue.").WithProblems(404);
        group.MapGet("/runs/{runId:guid}/tree", h.GetTree).WithName("GetCheckpointTree").WithSummary("The checkpoint tree.").WithProblems(404);
        group.MapGet("/runs/{runId:guid}/events", h.Watch).WithName("WatchRun").WithSummary("The run's events as Server-Sent Events; resumes after Last-Event-ID.").WithProblems(400, 404);
        group.MapPost("/runs/{runId:guid}/retry", h.Retry).WithName("RetryRun").WithSummary("Runs the failed or interrupted phase again.").WithProblems(404, 409);
        group.MapPost("/runs/{runId:guid}/cancel", h.Cancel).WithName("CancelRun").WithSummary("Cancels the run.").WithProblems(404);
        group.MapGet("/checkpoints/{checkpointId:guid}", h.GetCheckpoint).WithName("GetCheckpoint").WithSummary("A checkpoint with its artifacts, ETags and content URLs.").WithProblems(404);
        group.MapPost("/checkpoints/{checkpointId:guid}/continue", h.Continue).WithName("ContinueCheckpoint")
            .WithSummary("Approves the checkpoint and runs the next phase (forking a branch when it was edited): 200 inline, 202 with Location when queued.")
            .Accepts<ContinueBody>("application/json").WithProblems(404, 409, 415, 422);
        group.MapPost("/checkpoints/{checkpointId:guid}/units/{unitIndex:int}/regenerate", h.Regenerate).WithName("RegenerateUnit")
            .WithSummary("Regenerates one unit (a beat, a chunk) with optional prompt, model or seed overrides; If-Match guards the version.")
            .Accepts<RegenerateBody>("application/json").WithProblems(404, 409, 412, 415, 422, 502);
        group.MapGet("/checkpoints/{checkpointId:guid}/artifacts/{type}/{key}", h.GetArtifact).WithName("GetArtifact").WithSummary("An artifact's current version, with its ETag.").WithProblems(400, 404);
        group.MapPatch("/checkpoints/{checkpointId:guid}/artifacts/{type}/{key}", h.Patch).WithName("PatchArtifact")
            .WithSummary("Applies a JSON Merge Patch (RFC 7396) to an inline JSON artifact such as the spec; If-Match guards the version.")
            .DescribeBody("A JSON Merge Patch (RFC 7396): an object whose members replace, add or (when null) remove members.", ("application/merge-patch+json", Microsoft.OpenApi.JsonSchemaType.Object, null), ("application/json", Microsoft.OpenApi.JsonSchemaType.Object, null))
            .WithProblems(400, 404, 409, 412, 413, 415, 422);
        group.MapPut("/checkpoints/{checkpointId:guid}/artifacts/{type}/{key}/content", h.Upload).WithName("UploadArtifactContent")
            .WithSummary("Replaces a blob artifact (e.g. a storyboard image) with an upload, streamed (multipart/form-data or the raw bytes); If-Match guards the version.")
            .DescribeBody("The file, as the part 'file' of multipart/form-data or as the raw body; its media type is detected from the bytes.", ("multipart/form-data", Microsoft.OpenApi.JsonSchemaType.Object, null), ("application/octet-stream", Microsoft.OpenApi.JsonSchemaType.String, "binary"))
            .WithProblems(400, 404, 409, 412, 413, 415);
        group.MapGet("/checkpoints/{checkpointId:guid}/artifacts/{type}/{key}/content", h.GetContent).WithName("GetArtifactContent")
            .WithSummary("The current content: the blob's bytes (with Range support) or the inline JSON.").WithProblems(400, 404);
        group.MapGet("/checkpoints/{checkpointId:guid}/artifacts/{type}/{key}/versions", h.History).WithName("GetArtifactHistory").WithSummary("Every version of the artifact, oldest first.").WithProblems(400, 404);
        group.MapGet("/checkpoints/{checkpointId:guid}/artifacts/{type}/{key}/versions/{version:int}/content", h.GetVersionContent).WithName("GetArtifactVersionContent")
            .WithSummary("One version's content (with Range support for blobs).").WithProblems(400, 404);

        log.EndpointsMapped(normalized, options.RequireAuthorization ? options.AuthorizationPolicy ?? "default policy" : "off");
        return group;
    }

    /// <summary>
    /// Serves the review page (HTML, CSS and JavaScript embedded in this package; no CDN, no build step) under
    /// <paramref name="prefix"/>, talking to the API mapped by <see cref="MapCheckpointing"/> at <paramref name="apiPrefix"/>.
    /// </summary>
    /// <param name="endpoints">The application.</param>
    /// <param name="prefix">Where the page lives, e.g. <c>/review</c>.</param>
    /// <param name="apiPrefix">Where the API was mapped.</param>
    /// <returns>The route group of the page's files.</returns>
    public static RouteGroupBuilder MapCheckpointReview(this IEndpointRouteBuilder endpoints, string prefix = "/review", string apiPrefix = "/api")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var options = Options(endpoints.ServiceProvider);
        var normalized = Normalize(prefix);
        var api = Normalize(apiPrefix);
        var group = ReviewAssets.Map(endpoints, normalized, api);
        if (options.RequireAuthorization)
        {
            if (options.AuthorizationPolicy is { } policy)
            {
                group.RequireAuthorization(policy);
            }
            else
            {
                group.RequireAuthorization();
            }
        }

        endpoints.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger("Checkpointing.AspNetCore").ReviewMapped(normalized, api);
        return group;
    }

    private static CheckpointingEndpointOptions Options(IServiceProvider services)
    {
        var options = services.GetService<IOptions<CheckpointingEndpointOptions>>()?.Value ?? new CheckpointingEndpointOptions();
        var result = new CheckpointingEndpointOptionsValidator().Validate(null, options);
        return result.Failed ? throw new OptionsValidationException(nameof(CheckpointingEndpointOptions), typeof(CheckpointingEndpointOptions), result.Failures) : options;
    }

    private static string Normalize(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var trimmed = prefix.Trim().TrimEnd('/');
        return trimmed.Length == 0 ? "" : trimmed.StartsWith('/') ? trimmed : "/" + trimmed;
    }

    private static RouteHandlerBuilder WithProblems(this RouteHandlerBuilder builder, params int[] statuses)
    {
        foreach (var status in statuses)
        {
            builder.ProducesProblem(status);
        }

        return builder.ProducesProblem(401);
    }
}
