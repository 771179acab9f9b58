using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using T = Checkpointing.AspNetCore.CheckpointingProblemTypes;

namespace Checkpointing.AspNetCore;

/// <summary>Maps SDK exceptions (and HTTP-level refusals) to RFC 9457 problem details, one type each.</summary>
internal static class Problems
{
    /// <summary>Set on the request when the caller sent <c>If-Match</c>: a version conflict then answers 412, not 409.</summary>
    internal const string IfMatchItem = "Checkpointing.IfMatch";

    public static ProblemHttpResult From(Exception exception, HttpContext context)
    {
        var (status, type, title) = Classify(exception, context);
        var extensions = new Dictionary<string, object?>(StringComparer.Ordinal);
        switch (exception)
        {
            case ArtifactValidationException v:
                extensions["errors"] = v.Errors;
                break;
            case MediaTypeNotAllowedException m:
                extensions["detected"] = m.Detected;
                extensions["allowed"] = m.Allowed;
                break;
            case ContentTooLargeException c:
                extensions["limit"] = c.Limit;
                break;
            case UnitIndexOutOfRangeException u:
                extensions["unitCount"] = u.UnitCount;
                break;
            case RunStateException r:
                extensions["runStatus"] = r.Status.ToString();
                break;
            case GenerationException g:
                extensions["jobId"] = g.JobId;
                extensions["transient"] = g.IsTransient;
                break;
        }

        return Create(context, status, type, title, Detail(exception), extensions);
    }

    public static ProblemHttpResult Create(HttpContext context, int status, string type, string title, string detail, IDictionary<string, object?>? extensions = null)
    {
        extensions ??= new Dictionary<string, object?>(StringComparer.Ordinal);
        extensions["traceId"] = Activity.Current?.Id ?? context.TraceIdentifier;
        return TypedResults.Problem(detail, context.Request.Path, status, title, type, extensions);
    }

    private static string Detail(Exception exception) => exception switch
    {
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
            "The request body is larger than this endpoint accepts. Send a smaller file.",
        _ => exception.Message,
    };

    private static (int Status, string Type, string Title) Classify(Exception exception, HttpContext context) => exception switch
    {
        RunNotFoundException => (404, T.RunNotFound, "Run not found"),
        CheckpointNotFoundException => (404, T.CheckpointNotFound, "Checkpoint not found"),
        ArtifactNotFoundException => (404, T.ArtifactNotFound, "Artifact not found"),
        PipelineNotFoundException => (404, T.PipelineNotFound, "Pipeline not found"),
        BlobNotFoundException => (404, T.BlobNotFound, "Blob not found"),
        UnitIndexOutOfRangeException => (404, T.UnitNotFound, "Unit not found"),
        NotFoundException => (404, T.NotFound, "Not found"),
        ConcurrencyConflictException when context.Items.ContainsKey(IfMatchItem) => (412, T.PreconditionFailed, "The artifact changed"),
        ConcurrencyConflictException => (409, T.Conflict, "Conflict"),
        CheckpointAbandonedException => (409, T.CheckpointAbandoned, "Checkpoint abandoned"),
        TerminalPhaseException => (409, T.TerminalPhase, "Terminal phase"),
        RunStateException => (409, T.RunState, "Run state forbids this"),
        InvalidStateException => (409, T.InvalidState, "Invalid state"),
        EditNotAllowedException => (409, T.EditNotAllowed, "Edit not allowed"),
        BudgetExceededException => (409, T.BudgetExceeded, "Budget exceeded"),
        InvalidJsonException => (422, T.InvalidJson, "Invalid JSON"),
        ArtifactValidationException => (422, T.ValidationFailed, "Validation failed"),
        InvalidArtifactKeyException => (400, T.InvalidArtifactKey, "Invalid artifact type or key"),
        MediaTypeNotAllowedException => (415, T.UnsupportedMediaType, "Media type not allowed"),
        InvalidContentException => (422, T.InvalidContent, "Invalid content"),
        ContentTooLargeException => (413, T.ContentTooLarge, "Content too large"),
        GenerationException => (502, T.GenerationFailed, "Generation failed"),
        CheckpointingException => (400, T.CheckpointingError, "Request refused"),
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => (413, T.RequestTooLarge, "Request too large"),
        BadHttpRequestException b => (b.StatusCode, T.BadRequest, "Bad request"),
        _ => (400, T.BadRequest, "Bad request"),
    };
}
