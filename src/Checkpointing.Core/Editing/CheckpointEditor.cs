using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Checkpointing.Internal;

namespace Checkpointing;

/// <summary>Options common to all edits.</summary>
/// <param name="ExpectedVersion">
/// The artifact version the caller saw. When set, the edit fails with <see cref="ConcurrencyConflictException"/> if the
/// artifact changed since; when null, the edit is re-applied on top of concurrent edits.
/// </param>
/// <param name="EditedBy">Who edits (recorded in history).</param>
/// <param name="Description">Why; recorded in history after the edit's kind, e.g. <c>PatchJson: shorter beat 2</c>.</param>
public sealed record EditOptions(int? ExpectedVersion = null, string? EditedBy = null, string? Description = null);

/// <summary>The outcome of an edit.</summary>
/// <param name="Artifact">The artifact at its new version.</param>
/// <param name="PreviousVersion">The version it replaced (still readable in history).</param>
public sealed record EditResult(Artifact Artifact, int PreviousVersion);

/// <summary>
/// Edits artifacts in place: each edit writes a new version, keeps the previous one in history, and is allowed only
/// where the producing phase declares it. Continuing an edited checkpoint forks a new branch.
/// </summary>
public sealed class CheckpointEditor
{
    private readonly RunExecutor _executor;
    private readonly SdkServices _sdk;

    internal CheckpointEditor(RunExecutor executor)
    {
        _executor = executor;
        _sdk = executor.Sdk;
    }

    /// <summary>Applies a JSON Merge Patch (RFC 7396) to an inline JSON artifact, then the phase's validation.</summary>
    /// <param name="checkpointId">The checkpoint that owns the artifact.</param>
    /// <param name="type">The artifact type, e.g. <c>spec</c>.</param>
    /// <param name="key">The artifact key.</param>
    /// <param name="mergePatch">The patch, as JSON text.</param>
    /// <param name="options">Expected version, who and why.</param>
    /// <param name="cancellationToken">Cancels the edit.</param>
    /// <exception cref="InvalidJsonException">The patch is not valid JSON.</exception>
    /// <exception cref="ArtifactValidationException">The patched content fails the phase's validation.</exception>
    /// <exception cref="EditNotAllowedException">The phase does not allow patching this type.</exception>
    /// <exception cref="ConcurrencyConflictException"><see cref="EditOptions.ExpectedVersion"/> is stale.</exception>
    public async Task<EditResult> PatchJsonAsync(Guid checkpointId, string type, string key, string mergePatch, EditOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(mergePatch);
        CheckOptions(options);
        var target = await ResolveAsync(checkpointId, type, key, EditKinds.PatchJson, cancellationToken).ConfigureAwait(false);
        var jsonLimit = target.Spec.MaxJsonBytes ?? _sdk.Options.MaxInlineJsonBytes;
        InputRules.JsonText(mergePatch, "The merge patch", jsonLimit);
        var patch = JsonMergePatch.Parse(mergePatch);
        if (patch is not JsonObject)
        {
            throw new InvalidJsonException("The merge patch must be a JSON object, e.g. {\"beats\": [...]}; a patch that is not an object would replace the whole document.");
        }

        return await WriteAsync(target, EditKinds.PatchJson, options, current =>
        {
            if (current.Content.Json is not { } json)
            {
                throw new InvalidStateException($"Artifact '{type}/{key}' holds a blob; only inline JSON can be patched.");
            }

            var patched = JsonMergePatch.Apply(JsonNode.Parse(json.GetRawText()), patch);
            var element = JsonSerializer.SerializeToElement(patched);
            InputRules.Json(element, $"The patched '{type}/{key}'", jsonLimit);
            var errors = target.Phase.Validate(type, element);
            if (errors.Count > 0)
            {
                throw new ArtifactValidationException(type, errors);
            }

            return Task.FromResult(new Replacement(ArtifactContent.FromJson(element), current.Metadata with { Cost = 0m }, 0m, target.Spec.IsPhaseOutput ? element : null));
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Replaces a blob artifact's content with an upload. The media type is detected from the bytes (not a file name)
    /// and must be one the artifact type accepts; the size must be within its limit; and the content must be a complete,
    /// well-formed file of that type (<see cref="MediaChecks"/>: PNG, JPEG, WebP, GIF, MP4, QuickTime, HEIC, AVIF).
    /// </summary>
    /// <param name="checkpointId">The checkpoint that owns the artifact.</param>
    /// <param name="type">The artifact type, e.g. <c>beat_image</c>.</param>
    /// <param name="key">The artifact key, e.g. <c>beat_3</c>.</param>
    /// <param name="content">The uploaded bytes; read once, not disposed.</param>
    /// <param name="options">Expected version, who and why.</param>
    /// <param name="cancellationToken">Cancels the edit.</param>
    /// <exception cref="MediaTypeNotAllowedException">The bytes are not of an accepted media type.</exception>
    /// <exception cref="ContentTooLargeException">The upload is over the limit.</exception>
    /// <exception cref="InvalidContentException">The bytes start like an accepted type but are not a complete, well-formed file of it (e.g. a cut-short PNG).</exception>
    public async Task<EditResult> ReplaceContentAsync(Guid checkpointId, string type, string key, Stream content, EditOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        CheckOptions(options);
        var target = await ResolveAsync(checkpointId, type, key, EditKinds.ReplaceContent, cancellationToken).ConfigureAwait(false);
        ThrowIfStale(target, options);
        var spec = target.Spec;
        if (content.CanSeek && content.Length - content.Position > spec.MaxBytes)
        {
            throw new ContentTooLargeException(type, spec.MaxBytes);
        }

        var (header, length, detected) = await ContentInspector.SniffAsync(content, cancellationToken).ConfigureAwait(false);
        if (detected is null || !spec.AllowedMediaTypes.Contains(detected, StringComparer.OrdinalIgnoreCase))
        {
            throw new MediaTypeNotAllowedException(type, detected, spec.AllowedMediaTypes);
        }

        BlobReference blob;
        var checkedContent = await ContentInspector.BufferCheckedAsync(header, length, content, spec.MaxBytes, type, detected, cancellationToken).ConfigureAwait(false);
        await using (checkedContent.ConfigureAwait(false))
        {
            blob = await _sdk.Blobs.PutAsync(checkedContent, detected, cancellationToken).ConfigureAwait(false);
        }

        var metadata = new ArtifactMetadata(Extra: JsonSerializer.SerializeToElement(new { source = "upload" }));
        return await WriteAsync(target, EditKinds.ReplaceContent, options, _ =>
            Task.FromResult(new Replacement(ArtifactContent.FromBlob(blob), metadata, 0m, null)), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Regenerates one unit (e.g. beat 3) through its phase's own unit generator, with optional overrides.</summary>
    /// <param name="checkpointId">The checkpoint that owns the unit's artifact.</param>
    /// <param name="unitIndex">The 1-based unit index.</param>
    /// <param name="overrides">Prompt, model or seed to use instead of the planned ones.</param>
    /// <param name="options">Expected version, who and why.</param>
    /// <param name="cancellationToken">Cancels the generation (and its backend job).</param>
    /// <exception cref="UnitIndexOutOfRangeException">The checkpoint has no such unit.</exception>
    /// <exception cref="EditNotAllowedException">The phase is not unit-based or does not allow regeneration.</exception>
    public async Task<EditResult> RegenerateUnitAsync(Guid checkpointId, int unitIndex, UnitOverrides? overrides = null, EditOptions? options = null, CancellationToken cancellationToken = default)
    {
        CheckOptions(options);
        InputRules.Text(overrides?.Prompt, "UnitOverrides.Prompt", _sdk.Options.MaxTextLength);
        InputRules.Text(overrides?.Model, "UnitOverrides.Model", _sdk.Options.MaxTextLength);
        var checkpoint = await _sdk.GetCheckpointAsync(checkpointId, cancellationToken).ConfigureAwait(false);
        var run = await _sdk.GetRunAsync(checkpoint.RunId, cancellationToken).ConfigureAwait(false);
        var pipeline = _sdk.Pipelines.Get(run.Pipeline);
        if (pipeline.GetPhase(checkpoint.Phase) is not UnitPhase phase)
        {
            throw new EditNotAllowedException(checkpoint.Id, checkpoint.Phase, "*", EditKinds.RegenerateUnit, EditKinds.None);
        }

        var artifacts = await _sdk.Store.GetArtifactsAsync(checkpoint.Id, cancellationToken).ConfigureAwait(false);
        var unitCount = artifacts.Count(a => a.Type == phase.UnitArtifact.Type);
        if (unitIndex < 1 || unitIndex > unitCount)
        {
            throw new UnitIndexOutOfRangeException(checkpoint.Id, unitIndex, unitCount);
        }

        var key = phase.GetUnitKey(unitIndex);
        var target = await ResolveAsync(checkpointId, phase.UnitArtifact.Type, key, EditKinds.RegenerateUnit, cancellationToken).ConfigureAwait(false);
        ThrowIfStale(target, options);
        var parent = checkpoint.ParentId is { } parentId ? await _sdk.Store.GetCheckpointAsync(parentId, cancellationToken).ConfigureAwait(false) : null;
        var executionKey = $"edit/{checkpoint.Id:N}/{key}/{target.Artifact.Version + 1}";
        var context = new UnitContext(_sdk, run, pipeline, checkpoint.Phase, checkpoint.Branch, parent, new PhaseInputs(_sdk.Store, parent, checkpoint.ParentRevision), executionKey, unitIndex, unitCount, overrides ?? UnitOverrides.None);
        var result = await phase.GenerateUnitAsync(context, cancellationToken).ConfigureAwait(false);
        var cost = result.Cost + context.GenerationCost;
        var metadata = (result.Metadata ?? ArtifactMetadata.Empty) with { Cost = cost };
        InputRules.Content(result.Content, metadata, $"Phase '{phase.Name}' artifact {target.Artifact.Type}/{key}", target.Spec.MaxJsonBytes ?? _sdk.Options.MaxInlineJsonBytes, _sdk.Options.MaxTextLength);
        var edit = await WriteAsync(target, EditKinds.RegenerateUnit, options, _ =>
            Task.FromResult(new Replacement(result.Content, metadata, cost, null)), cancellationToken).ConfigureAwait(false);
        await _sdk.Store.ClearJournalAsync(run.Id, executionKey, CancellationToken.None).ConfigureAwait(false);
        return edit;
    }

    /// <summary>
    /// Regenerates the unit that produced the artifact <paramref name="type"/>/<paramref name="key"/>, addressed like
    /// the other edits (<see cref="PatchJsonAsync"/>, <see cref="ReplaceContentAsync"/>); the same as
    /// <see cref="RegenerateUnitAsync(Guid, int, UnitOverrides?, EditOptions?, CancellationToken)"/> with its unit index.
    /// </summary>
    /// <param name="checkpointId">The checkpoint that owns the unit's artifact.</param>
    /// <param name="type">The unit artifact type, e.g. <c>beat_image</c>.</param>
    /// <param name="key">The unit's artifact key, e.g. <c>beat_3</c>.</param>
    /// <param name="overrides">Prompt, model or seed to use instead of the planned ones.</param>
    /// <param name="options">Expected version, who and why.</param>
    /// <param name="cancellationToken">Cancels the generation (and its backend job).</param>
    /// <exception cref="ArtifactNotFoundException">The checkpoint holds no such artifact.</exception>
    /// <exception cref="EditNotAllowedException">The phase is not unit-based or does not allow regeneration.</exception>
    public async Task<EditResult> RegenerateUnitAsync(Guid checkpointId, string type, string key, UnitOverrides? overrides = null, EditOptions? options = null, CancellationToken cancellationToken = default)
    {
        CheckOptions(options);
        var target = await ResolveAsync(checkpointId, type, key, EditKinds.RegenerateUnit, cancellationToken).ConfigureAwait(false);
        if (target.Phase is not UnitPhase unitPhase || unitPhase.UnitArtifact.Type != type || target.Artifact.UnitIndex is not { } unitIndex)
        {
            throw new EditNotAllowedException(target.Checkpoint.Id, target.Checkpoint.Phase, type, EditKinds.RegenerateUnit, EditKinds.None);
        }

        return await RegenerateUnitAsync(checkpointId, unitIndex, overrides, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Marks a checkpoint abandoned: it can no longer be edited or continued.</summary>
    /// <param name="checkpointId">The checkpoint.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The checkpoint as stored.</returns>
    public async Task<Checkpoint> AbandonAsync(Guid checkpointId, CancellationToken cancellationToken = default)
    {
        await _sdk.GetCheckpointAsync(checkpointId, cancellationToken).ConfigureAwait(false);
        return await _sdk.Store.SetCheckpointStatusAsync(checkpointId, CheckpointStatus.Abandoned, _sdk.Now, cancellationToken).ConfigureAwait(false);
    }

    private async Task<Target> ResolveAsync(Guid checkpointId, string type, string key, EditKinds kind, CancellationToken ct)
    {
        ArtifactKeys.Validate(type, "type");
        ArtifactKeys.Validate(key);
        var checkpoint = await _sdk.GetCheckpointAsync(checkpointId, ct).ConfigureAwait(false);
        if (checkpoint.Status == CheckpointStatus.Abandoned)
        {
            throw new CheckpointAbandonedException(checkpoint.Id);
        }

        var run = await _sdk.GetRunAsync(checkpoint.RunId, ct).ConfigureAwait(false);
        var phase = _sdk.Pipelines.Get(run.Pipeline).GetPhase(checkpoint.Phase);
        var spec = phase.FindArtifact(type);
        if (spec is null || !spec.AllowedEdits.HasFlag(kind))
        {
            throw new EditNotAllowedException(checkpoint.Id, checkpoint.Phase, type, kind, spec?.AllowedEdits ?? EditKinds.None);
        }

        var artifact = await _sdk.Store.GetArtifactAsync(checkpoint.Id, type, key, ct).ConfigureAwait(false)
            ?? throw new ArtifactNotFoundException(checkpoint.Id, type, key);
        return new Target(checkpoint, phase, spec, artifact);
    }

    /// <summary>Refuses who and why before anything is read, uploaded or generated.</summary>
    private void CheckOptions(EditOptions? options)
    {
        InputRules.Text(options?.EditedBy, "EditOptions.EditedBy", _sdk.Options.MaxIdentityLength);
        InputRules.Text(options?.Description, "EditOptions.Description", _sdk.Options.MaxTextLength);
    }

    /// <summary>
    /// Refuses a stale expected version before anything is uploaded or generated (the store checks it again when it
    /// writes, so a race is still caught there).
    /// </summary>
    private static void ThrowIfStale(Target target, EditOptions? options)
    {
        if (options?.ExpectedVersion is { } expected && expected != target.Artifact.Version)
        {
            throw ConcurrencyConflictException.ForArtifact(target.Checkpoint.Id, target.Artifact.Type, target.Artifact.Key, expected, target.Artifact.Version);
        }
    }

    private async Task<EditResult> WriteAsync(Target target, EditKinds kind, EditOptions? options, Func<Artifact, Task<Replacement>> replace, CancellationToken ct)
    {
        using var activity = Telemetry.Source.StartActivity($"edit {kind}");
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(Telemetry.Tags.CheckpointId, target.Checkpoint.Id);
            activity.SetTag(Telemetry.Tags.EditKind, kind.ToString());
        }

        var current = target.Artifact;
        for (var attempt = 1; ; attempt++)
        {
            var expected = options?.ExpectedVersion ?? current.Version;
            var replacement = await replace(current).ConfigureAwait(false);
            try
            {
                var updated = await _sdk.Store.UpdateArtifactAsync(
                    new ArtifactUpdate
                    {
                        CheckpointId = target.Checkpoint.Id,
                        Type = current.Type,
                        Key = current.Key,
                        ExpectedVersion = expected,
                        Content = replacement.Content,
                        Metadata = replacement.Metadata,
                        UpdatedBy = options?.EditedBy,
                        Reason = Reason(kind, options?.Description),
                        CostDelta = replacement.Cost,
                        NewCheckpointOutput = replacement.Output,
                        At = _sdk.Now,
                    },
                    ct).ConfigureAwait(false);
                Telemetry.Edits.Add(1, new KeyValuePair<string, object?>(Telemetry.Tags.EditKind, kind.ToString()));
                _sdk.Log.ArtifactEdited(target.Checkpoint.Id, kind, updated.Type, updated.Key, updated.Version);
                await _sdk.PublishAsync(new ArtifactEdited(target.Checkpoint.RunId, _sdk.Now, target.Checkpoint.Id, updated.Type, updated.Key, updated.Version, kind)).ConfigureAwait(false);
                return new EditResult(updated, updated.Version - 1);
            }
            catch (ConcurrencyConflictException) when (options?.ExpectedVersion is null && attempt < _sdk.Options.MaxEditAttempts)
            {
                _sdk.Log.EditConflictRetry(target.Checkpoint.Id, current.Type, current.Key, attempt);
                current = await _sdk.Store.GetArtifactAsync(target.Checkpoint.Id, current.Type, current.Key, ct).ConfigureAwait(false)
                    ?? throw new ArtifactNotFoundException(target.Checkpoint.Id, current.Type, current.Key);
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(0, Math.Min(50, attempt * 2))), _sdk.Time, ct).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                activity?.SetStatus(ActivityStatusCode.Error, e.Message);
                throw;
            }
        }
    }

    /// <summary>The history's reason: the edit's kind, then the caller's description after a colon (e.g. <c>PatchJson: shorter beat 2</c>).</summary>
    internal static string Reason(EditKinds kind, string? description) =>
        string.IsNullOrWhiteSpace(description) ? kind.ToString() : $"{kind}: {description}";

    private sealed record Target(Checkpoint Checkpoint, Phase Phase, ArtifactSpec Spec, Artifact Artifact);

    private sealed record Replacement(ArtifactContent Content, ArtifactMetadata Metadata, decimal Cost, JsonElement? Output);
}
