using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using T = Checkpointing.AspNetCore.CheckpointingProblemTypes;

namespace Checkpointing.AspNetCore;

/// <summary>
/// The handlers behind <see cref="Microsoft.AspNetCore.Builder.CheckpointingEndpointRouteBuilderExtensions.MapCheckpointing"/>: each one resolves
/// the caller's owner, checks that the run it touches is theirs, and makes one SDK call.
/// </summary>
internal sealed class CheckpointingEndpoints
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    private readonly string _prefix;
    private readonly CheckpointingEndpointOptions _options;
    private readonly ILogger _log;

    public CheckpointingEndpoints(string prefix, CheckpointingEndpointOptions options, ILogger log)
    {
        _prefix = prefix;
        _options = options;
        _log = log;
    }

    // ---- runs ------------------------------------------------------------------------------------------------------

    public async Task<Ok<IReadOnlyList<RunResponse>>> ListRuns(HttpContext http, CheckpointQueries queries, int? limit)
    {
        var owner = Owner(http);
        var take = Math.Clamp(limit ?? _options.MaxRunsListed, 1, _options.MaxRunsListed);
        var runs = await queries.ListRunsAsync(owner, take, http.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok<IReadOnlyList<RunResponse>>(runs.Select(RunResponse.From).ToList());
    }

    public async Task<Results<Created<RunResponse>, Accepted<RunResponse>>> StartRun(HttpContext http, CheckpointRunner runner)
    {
        var owner = Owner(http);
        var body = await ReadJsonAsync<StartRunBody>(http, required: true).ConfigureAwait(false);
        if (string.IsNullOrWhiteSpace(body!.Pipeline))
        {
            throw new HttpProblemException(422, T.ValidationFailed, "Validation failed", "The body needs a 'pipeline': the name of a registered pipeline.");
        }

        var input = body.Input.ValueKind == JsonValueKind.Undefined ? JsonSerializer.SerializeToElement(new { }) : body.Input;
        var result = await runner.StartAsync(new StartRunRequest(body.Pipeline, owner, input) { AutoContinue = body.AutoContinue, Budget = body.Budget }, Stopping(http)).ConfigureAwait(false);
        var run = RunResponse.From(result.Run);
        var location = RunUrl(http, result.Run.Id);
        return result.Run.Status == RunStatus.Queued ? TypedResults.Accepted(location, run) : TypedResults.Created(location, run);
    }

    public async Task<Ok<RunStatusResponse>> GetStatus(HttpContext http, CheckpointQueries queries, Guid runId)
    {
        await RequireRunAsync(http, queries, runId).ConfigureAwait(false);
        var snapshot = await queries.GetStatusAsync(runId, http.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(new RunStatusResponse(
            RunResponse.From(snapshot.Run),
            snapshot.Current is { } c ? CheckpointResponse.From(c) : null,
            snapshot.Tree.Select(TreeNodeResponse.From).ToList(),
            Branches(snapshot),
            snapshot.Cost));
    }

    public async Task<Ok<IReadOnlyList<CheckpointResponse>>> ListCheckpoints(HttpContext http, CheckpointQueries queries, Guid runId, string? branch)
    {
        await RequireRunAsync(http, queries, runId).ConfigureAwait(false);
        var checkpoints = await queries.ListCheckpointsAsync(runId, string.IsNullOrWhiteSpace(branch) ? null : branch, http.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok<IReadOnlyList<CheckpointResponse>>(checkpoints.Select(CheckpointResponse.From).ToList());
    }

    public async Task<Results<Ok<CheckpointResponse>, NoContent>> GetCurrent(HttpContext http, CheckpointQueries queries, Guid runId)
    {
        await RequireRunAsync(http, queries, runId).ConfigureAwait(false);
        var current = await queries.GetCurrentCheckpointAsync(runId, http.RequestAborted).ConfigureAwait(false);
        return current is null ? TypedResults.NoContent() : TypedResults.Ok(CheckpointResponse.From(current));
    }

    public async Task<Ok<IReadOnlyList<BranchResponse>>> ListBranches(HttpContext http, CheckpointQueries queries, Guid runId)
    {
        await RequireRunAsync(http, queries, runId).ConfigureAwait(false);
        return TypedResults.Ok<IReadOnlyList<BranchResponse>>(Branches(await queries.GetStatusAsync(runId, http.RequestAborted).ConfigureAwait(false)));
    }

    public async Task<Ok<IReadOnlyList<TreeNodeResponse>>> GetTree(HttpContext http, CheckpointQueries queries, Guid runId)
    {
        await RequireRunAsync(http, queries, runId).ConfigureAwait(false);
        var tree = await queries.GetTreeAsync(runId, http.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok<IReadOnlyList<TreeNodeResponse>>(tree.Select(TreeNodeResponse.From).ToList());
    }

    public async Task<Ok<RunResponse>> Retry(HttpContext http, CheckpointQueries queries, CheckpointRunner runner, Guid runId)
    {
        await RequireRunAsync(http, queries, runId).ConfigureAwait(false);
        var result = await runner.RetryAsync(runId, Stopping(http)).ConfigureAwait(false);
        return TypedResults.Ok(RunResponse.From(result.Run));
    }

    public async Task<Ok<RunResponse>> Cancel(HttpContext http, CheckpointQueries queries, CheckpointRunner runner, Guid runId)
    {
        await RequireRunAsync(http, queries, runId).ConfigureAwait(false);
        return TypedResults.Ok(RunResponse.From(await runner.CancelAsync(runId, http.RequestAborted).ConfigureAwait(false)));
    }

    public async Task<ServerSentEventsResult<CheckpointEventResponse>> Watch(HttpContext http, CheckpointQueries queries, Guid runId)
    {
        await RequireRunAsync(http, queries, runId).ConfigureAwait(false);
        var after = EventStream.ParseLastEventId(http.Request);
        _log.StreamOpened(runId, after ?? 0);
        var now = (http.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System).GetUtcNow();
        return TypedResults.ServerSentEvents(EventStream.Open(queries, runId, after, now, http.RequestAborted));
    }

    // ---- checkpoints -----------------------------------------------------------------------------------------------

    public async Task<Ok<CheckpointDetailsResponse>> GetCheckpoint(HttpContext http, CheckpointQueries queries, Guid checkpointId)
    {
        await RequireCheckpointAsync(http, queries, checkpointId).ConfigureAwait(false);
        var details = await queries.GetCheckpointAsync(checkpointId, http.RequestAborted).ConfigureAwait(false);
        var consumed = await queries.GetInputsAsync(checkpointId, http.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(new CheckpointDetailsResponse(
            CheckpointResponse.From(details.Checkpoint),
            details.Artifacts.Select(v => Artifact(http, v.Artifact, v.ReadUrl)).ToList(),
            consumed));
    }

    public async Task<Results<Ok<ContinueResponse>, Accepted<ContinueResponse>>> Continue(HttpContext http, CheckpointQueries queries, CheckpointRunner runner, Guid checkpointId)
    {
        var owner = await RequireCheckpointAsync(http, queries, checkpointId).ConfigureAwait(false);
        var body = await ReadJsonAsync<ContinueBody>(http, required: false).ConfigureAwait(false);
        var queue = http.RequestServices.GetRequiredService<IOptions<CheckpointingEndpointOptions>>().Value.QueueContinuations;
        var result = await runner.ContinueAsync(checkpointId, new ContinueOptions(owner, body?.Description) { Queue = queue }, Stopping(http)).ConfigureAwait(false);
        var queued = result.Run.Status == RunStatus.Queued;
        var response = new ContinueResponse(
            result.NextPhase, result.Branch, result.BranchCreated, result.AlreadyContinued, queued,
            result.Checkpoint is { } c ? CheckpointResponse.From(c) : null, RunResponse.From(result.Run));
        return queued ? TypedResults.Accepted(RunUrl(http, result.Run.Id), response) : TypedResults.Ok(response);
    }

    public async Task<Ok<EditResponse>> Regenerate(HttpContext http, CheckpointQueries queries, CheckpointEditor editor, Guid checkpointId, int unitIndex)
    {
        var owner = await RequireCheckpointAsync(http, queries, checkpointId).ConfigureAwait(false);
        var body = await ReadJsonAsync<RegenerateBody>(http, required: false).ConfigureAwait(false) ?? new RegenerateBody();
        var overrides = new UnitOverrides(Blank(body.Prompt), Blank(body.Model), body.Seed);
        var edit = await editor.RegenerateUnitAsync(checkpointId, unitIndex, overrides, Edit(http, owner, body.Description), Stopping(http)).ConfigureAwait(false);
        return EditResult(http, edit);
    }

    // ---- artifacts -------------------------------------------------------------------------------------------------

    public async Task<Ok<ArtifactResponse>> GetArtifact(HttpContext http, CheckpointQueries queries, Guid checkpointId, string type, string key)
    {
        await RequireCheckpointAsync(http, queries, checkpointId).ConfigureAwait(false);
        var artifact = await queries.GetArtifactAsync(checkpointId, type, key, http.RequestAborted).ConfigureAwait(false);
        var response = Artifact(http, artifact, null);
        http.Response.Headers.ETag = response.ETag;
        return TypedResults.Ok(response);
    }

    public async Task<Ok<EditResponse>> Patch(HttpContext http, CheckpointQueries queries, CheckpointEditor editor, Guid checkpointId, string type, string key, string? description)
    {
        var owner = await RequireCheckpointAsync(http, queries, checkpointId).ConfigureAwait(false);
        var contentType = http.Request.ContentType;
        if (!IsJson(contentType))
        {
            throw new HttpProblemException(415, T.UnsupportedContentType, "Unsupported content type",
                $"Send the merge patch as application/merge-patch+json (or application/json), not {(string.IsNullOrEmpty(contentType) ? "an untyped body" : contentType)}.");
        }

        var patch = await ReadBodyTextAsync(http).ConfigureAwait(false);
        var edit = await editor.PatchJsonAsync(checkpointId, type, key, patch, Edit(http, owner, description), http.RequestAborted).ConfigureAwait(false);
        return EditResult(http, edit);
    }

    public async Task<Ok<EditResponse>> Upload(HttpContext http, CheckpointQueries queries, CheckpointEditor editor, Guid checkpointId, string type, string key, string? description)
    {
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = _options.MaxUploadRequestBytes;
        }

        var owner = await RequireCheckpointAsync(http, queries, checkpointId).ConfigureAwait(false);
        var options = Edit(http, owner, description);
        if (MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var mediaType) && mediaType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            var boundary = HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value;
            if (string.IsNullOrWhiteSpace(boundary) || boundary.Length > 200)
            {
                throw new HttpProblemException(400, T.BadRequest, "Bad request", "The multipart/form-data request has no valid boundary parameter.");
            }

            // Sections are read one by one from the request body: the file part streams straight into the blob store.
            var reader = new MultipartReader(boundary, http.Request.Body);
            while (await reader.ReadNextSectionAsync(http.RequestAborted).ConfigureAwait(false) is { } section)
            {
                if (section.GetContentDispositionHeader() is { } disposition && disposition.IsFileDisposition())
                {
                    var edit = await editor.ReplaceContentAsync(checkpointId, type, key, section.Body, options, http.RequestAborted).ConfigureAwait(false);
                    return EditResult(http, edit);
                }
            }

            throw new HttpProblemException(400, T.BadRequest, "Bad request", "The multipart/form-data request has no file part; send the file as a part with a filename (e.g. form field 'file').");
        }

        // Any other content type: the body is the file itself; its media type is detected from the bytes.
        var raw = await editor.ReplaceContentAsync(checkpointId, type, key, http.Request.Body, options, http.RequestAborted).ConfigureAwait(false);
        return EditResult(http, raw);
    }

    public async Task<Results<FileStreamHttpResult, ContentHttpResult>> GetContent(HttpContext http, CheckpointQueries queries, Guid checkpointId, string type, string key)
    {
        await RequireCheckpointAsync(http, queries, checkpointId).ConfigureAwait(false);
        var artifact = await queries.GetArtifactAsync(checkpointId, type, key, http.RequestAborted).ConfigureAwait(false);
        return await ContentAsync(http, queries, artifact.Content).ConfigureAwait(false);
    }

    public async Task<Ok<IReadOnlyList<ArtifactVersionResponse>>> History(HttpContext http, CheckpointQueries queries, Guid checkpointId, string type, string key)
    {
        await RequireCheckpointAsync(http, queries, checkpointId).ConfigureAwait(false);
        var history = await queries.GetArtifactHistoryAsync(checkpointId, type, key, http.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok<IReadOnlyList<ArtifactVersionResponse>>(history
            .Select(v => new ArtifactVersionResponse(v.Version, v.ParentVersion, v.Content, v.Metadata, v.CreatedAt, v.CreatedBy, v.Reason, VersionContentUrl(http, checkpointId, type, key, v.Version)))
            .ToList());
    }

    public async Task<Results<FileStreamHttpResult, ContentHttpResult>> GetVersionContent(HttpContext http, CheckpointQueries queries, Guid checkpointId, string type, string key, int version)
    {
        await RequireCheckpointAsync(http, queries, checkpointId).ConfigureAwait(false);
        var v = await queries.GetArtifactVersionAsync(checkpointId, type, key, version, http.RequestAborted).ConfigureAwait(false);
        return await ContentAsync(http, queries, v.Content).ConfigureAwait(false);
    }

    // ---- helpers ---------------------------------------------------------------------------------------------------

    private static async Task<Results<FileStreamHttpResult, ContentHttpResult>> ContentAsync(HttpContext http, CheckpointQueries queries, ArtifactContent content)
    {
        if (content.Json is { } json)
        {
            return TypedResults.Text(json.GetRawText(), "application/json", Encoding.UTF8);
        }

        var blob = content.Blob!;
        var stream = await queries.OpenContentAsync(content, http.RequestAborted).ConfigureAwait(false);

        // Content is addressed by its hash: the bytes behind this URL version never change.
        http.Response.Headers.CacheControl = "private, max-age=31536000, immutable";
        return TypedResults.Stream(stream, blob.MediaType, entityTag: new EntityTagHeaderValue($"\"{blob.Hash}\""), enableRangeProcessing: true);
    }

    private string Owner(HttpContext http) =>
        _options.OwnerResolver(http) is { Length: > 0 } owner
            ? owner
            : throw new HttpProblemException(401, T.OwnerUnknown, "Owner unknown",
                "The request does not say who the caller is, so no runs can be shown; sign in (or configure CheckpointingEndpointOptions.OwnerResolver).");

    /// <summary>
    /// The run, when the caller owns it. Another owner's run answers exactly as an unknown id does (404), so ids of
    /// other people's runs cannot be probed.
    /// </summary>
    private async Task<string> RequireRunAsync(HttpContext http, CheckpointQueries queries, Guid runId)
    {
        var owner = Owner(http);
        var run = await queries.GetRunAsync(runId, http.RequestAborted).ConfigureAwait(false);
        if (!string.Equals(run.OwnerId, owner, StringComparison.Ordinal))
        {
            _log.OtherOwner(runId, owner);
            throw new RunNotFoundException(runId);
        }

        return owner;
    }

    private async Task<string> RequireCheckpointAsync(HttpContext http, CheckpointQueries queries, Guid checkpointId)
    {
        var owner = Owner(http);
        var store = http.RequestServices.GetRequiredService<ICheckpointStore>();
        var checkpoint = await store.GetCheckpointAsync(checkpointId, http.RequestAborted).ConfigureAwait(false) ?? throw new CheckpointNotFoundException(checkpointId);
        var run = await queries.GetRunAsync(checkpoint.RunId, http.RequestAborted).ConfigureAwait(false);
        if (!string.Equals(run.OwnerId, owner, StringComparison.Ordinal))
        {
            _log.OtherOwner(run.Id, owner);
            throw new CheckpointNotFoundException(checkpointId);
        }

        return owner;
    }

    private static EditOptions Edit(HttpContext http, string owner, string? description) =>
        new(ETags.ParseIfMatch(http), owner, Blank(description));

    private Ok<EditResponse> EditResult(HttpContext http, EditResult edit)
    {
        var artifact = Artifact(http, edit.Artifact, null);
        http.Response.Headers.ETag = artifact.ETag;
        return TypedResults.Ok(new EditResponse(artifact, edit.PreviousVersion));
    }

    private ArtifactResponse Artifact(HttpContext http, Artifact a, Uri? readUrl) => new(
        a.Id, a.CheckpointId, a.Type, a.Key, a.Version, ETags.Of(a.Version), a.Content, a.Metadata, a.UnitIndex, a.UpdatedAt, a.UpdatedBy, a.Reason,
        $"{Base(http)}/checkpoints/{a.CheckpointId}/artifacts/{Uri.EscapeDataString(a.Type)}/{Uri.EscapeDataString(a.Key)}/content",
        readUrl is { Scheme: "http" or "https" } ? readUrl : null);

    private static List<BranchResponse> Branches(RunSnapshot snapshot) =>
        snapshot.Branches.Select(b =>
        {
            var active = snapshot.ActiveBranches.FirstOrDefault(a => a.Branch == b.Name);
            return new BranchResponse(b.Name, b.ParentBranch, b.ForkedFrom, b.CreatedAt, active is null ? null : CheckpointResponse.From(active.Leaf), active?.CanContinue ?? false);
        }).ToList();

    private string Base(HttpContext http) => http.Request.PathBase.Value + _prefix;

    private string RunUrl(HttpContext http, Guid runId) => $"{Base(http)}/runs/{runId}";

    private string VersionContentUrl(HttpContext http, Guid checkpointId, string type, string key, int version) =>
        $"{Base(http)}/checkpoints/{checkpointId}/artifacts/{Uri.EscapeDataString(type)}/{Uri.EscapeDataString(key)}/versions/{version}/content";

    /// <summary>Runner calls execute phases inline: they stop with the host, not when the browser goes away.</summary>
    private static CancellationToken Stopping(HttpContext http) =>
        http.RequestServices.GetService<IHostApplicationLifetime>()?.ApplicationStopping ?? CancellationToken.None;

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    private static bool IsJson(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var media)
        && (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || media.MediaType.Equals("application/merge-patch+json", StringComparison.OrdinalIgnoreCase)
            || media.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase));

    private async Task<string> ReadBodyTextAsync(HttpContext http)
    {
        var max = _options.MaxJsonBodyBytes;
        if (http.Request.ContentLength > max)
        {
            throw TooLarge(max);
        }

        var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await http.Request.Body.ReadAsync(chunk, http.RequestAborted).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > max)
            {
                throw TooLarge(max);
            }

            buffer.Write(chunk, 0, read);
        }

        try
        {
            return new UTF8Encoding(false, true).GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidJsonException("The body is not valid UTF-8 text; send JSON encoded as UTF-8.", e);
        }
    }

    private static HttpProblemException TooLarge(int max) =>
        new(413, T.RequestTooLarge, "Request too large", $"The JSON body may be at most {max} bytes.");

    private async Task<TBody?> ReadJsonAsync<TBody>(HttpContext http, bool required)
        where TBody : class
    {
        var request = http.Request;
        if (request.ContentLength == 0 || (request.ContentLength is null && string.IsNullOrEmpty(request.ContentType)))
        {
            return required ? throw new InvalidJsonException("The request needs a JSON body.") : null;
        }

        if (!IsJson(request.ContentType))
        {
            throw new HttpProblemException(415, T.UnsupportedContentType, "Unsupported content type", $"Send the body as application/json, not {request.ContentType ?? "an untyped body"}.");
        }

        var text = await ReadBodyTextAsync(http).ConfigureAwait(false);
        if (text.Length == 0)
        {
            return required ? throw new InvalidJsonException("The request needs a JSON body.") : null;
        }

        try
        {
            var options = http.RequestServices.GetService<IOptions<JsonOptions>>()?.Value.SerializerOptions ?? Web;
            return JsonSerializer.Deserialize<TBody>(text, options)
                ?? (required ? throw new InvalidJsonException("The JSON body is null; send an object.") : null);
        }
        catch (JsonException e)
        {
            throw new InvalidJsonException($"The body is not valid JSON for this request: {e.Message}", e);
        }
    }
}

/// <summary>Entity tags of artifact versions: <c>"v{version}"</c>, sent as <c>ETag</c> and accepted in <c>If-Match</c>.</summary>
internal static class ETags
{
    public static string Of(int version) => $"\"v{version}\"";

    /// <summary>The version the caller expects, from <c>If-Match</c>; null when absent or <c>*</c>.</summary>
    public static int? ParseIfMatch(HttpContext http)
    {
        var values = http.Request.Headers.IfMatch;
        if (values.Count == 0)
        {
            return null;
        }

        var text = string.Join(",", values.ToArray()).Trim();
        if (text == "*")
        {
            return null;
        }

        http.Items[Problems.IfMatchItem] = true;
        if (text.Length > 3 && text.Length < 16 && text[0] == '"' && text[1] == 'v' && text[^1] == '"'
            && int.TryParse(text.AsSpan(2, text.Length - 3), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var version) && version > 0)
        {
            return version;
        }

        throw new HttpProblemException(412, T.PreconditionFailed, "The artifact changed",
            $"If-Match '{text}' matches no version of this artifact; send the ETag of the version you read, e.g. \"v2\".");
    }
}
