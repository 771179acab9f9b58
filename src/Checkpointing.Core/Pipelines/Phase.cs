using System.Text.Json;

namespace Checkpointing;

/// <summary>The kinds of edit a phase may allow on its artifacts.</summary>
[Flags]
public enum EditKinds
{
    /// <summary>No edits.</summary>
    None = 0,
    /// <summary>Patch inline JSON with a JSON Merge Patch (RFC 7396), then the phase's validation.</summary>
    PatchJson = 1,
    /// <summary>Replace the content with an upload, checked by media type and size.</summary>
    ReplaceContent = 2,
    /// <summary>Regenerate one unit through the phase's own unit generator.</summary>
    RegenerateUnit = 4,
}

/// <summary>Declares an artifact type a phase produces and what may be done with it.</summary>
public sealed record ArtifactSpec
{
    /// <summary>Creates the declaration.</summary>
    /// <param name="type">The artifact type, e.g. <c>beat_image</c>.</param>
    public ArtifactSpec(string type)
    {
        ArtifactKeys.Validate(type, "type");
        Type = type;
    }

    /// <summary>The artifact type.</summary>
    public string Type { get; }

    /// <summary>The edits allowed on artifacts of this type at the phase's checkpoints.</summary>
    /// <value>Default: <see cref="EditKinds.None"/>.</value>
    public EditKinds AllowedEdits { get; init; }

    /// <summary>The media types accepted for uploads (checked from the bytes).</summary>
    /// <value>Default: empty, meaning uploads are refused.</value>
    public IReadOnlyList<string> AllowedMediaTypes { get; init; } = [];

    /// <summary>The largest upload accepted, in bytes.</summary>
    /// <value>Default: 50 MiB.</value>
    public long MaxBytes { get; init; } = 50L * 1024 * 1024;

    /// <summary>The largest inline JSON content of this type, in bytes of UTF-8 text (a patch's result included).</summary>
    /// <value>Default: null, meaning <see cref="CheckpointingOptions.MaxInlineJsonBytes"/>.</value>
    public long? MaxJsonBytes { get; init; }

    /// <summary>When true, patching this JSON artifact also replaces the checkpoint's phase output with the result.</summary>
    /// <value>Default: false.</value>
    public bool IsPhaseOutput { get; init; }
}

/// <summary>
/// One step of a pipeline. It reads artifacts of earlier checkpoints on its lineage through the
/// <see cref="PhaseContext"/> and returns its own artifacts. Derive from <see cref="UnitPhase"/> for phases that
/// fan out over units (beats, chunks).
/// </summary>
public abstract class Phase
{
    /// <summary>Creates the phase.</summary>
    /// <param name="name">The phase name, e.g. <c>plan</c>.</param>
    protected Phase(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
    }

    /// <summary>The phase name.</summary>
    public string Name { get; }

    /// <summary>The artifact types this phase produces, with the edits each allows.</summary>
    public abstract IReadOnlyList<ArtifactSpec> Artifacts { get; }

    /// <summary>Runs the phase.</summary>
    /// <param name="context">Access to the run, the lineage, the blob store and backends.</param>
    /// <param name="cancellationToken">Cancels the phase.</param>
    /// <returns>The phase's artifacts and output.</returns>
    public abstract Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken);

    /// <summary>
    /// An estimate of what running this phase costs, checked against the run's budget before the phase runs (so a
    /// budget too small for it stops the run before anything is paid). Unit phases estimate per unit instead, with
    /// <see cref="UnitPhase.EstimateUnitCost"/>.
    /// </summary>
    /// <param name="context">The phase context (run, inputs).</param>
    /// <value>Default: 0 (the phase runs while the run has spent less than its budget).</value>
    public virtual decimal EstimateCost(PhaseContext context) => 0m;

    /// <summary>Validates inline JSON content of one of this phase's artifact types (used after a merge patch).</summary>
    /// <param name="artifactType">The artifact type.</param>
    /// <param name="content">The content to validate.</param>
    /// <returns>Every error found; empty when valid.</returns>
    public virtual IReadOnlyList<string> Validate(string artifactType, JsonElement content) => [];

    /// <summary>Finds the declaration of an artifact type, or null.</summary>
    /// <param name="type">The artifact type.</param>
    public ArtifactSpec? FindArtifact(string type) => Artifacts.FirstOrDefault(a => a.Type == type);
}

/// <summary>
/// A phase that fans out over units (e.g. one image per beat). Each unit produces one artifact, is recorded as soon
/// as it finishes (so a retry does only the missing ones), and can be regenerated later with the same code.
/// </summary>
public abstract class UnitPhase : Phase
{
    /// <summary>Creates the phase.</summary>
    /// <param name="name">The phase name.</param>
    /// <param name="unitArtifact">The artifact each unit produces.</param>
    protected UnitPhase(string name, ArtifactSpec unitArtifact)
        : base(name)
    {
        UnitArtifact = unitArtifact ?? throw new ArgumentNullException(nameof(unitArtifact));
    }

    /// <summary>The artifact each unit produces.</summary>
    public ArtifactSpec UnitArtifact { get; }

    /// <inheritdoc />
    public override IReadOnlyList<ArtifactSpec> Artifacts => [UnitArtifact];

    /// <summary>How many units run at once.</summary>
    /// <value>Default: 4.</value>
    public virtual int MaxConcurrency => 4;

    /// <summary>Tells how many units the phase has (units are numbered from 1).</summary>
    /// <param name="context">The phase context.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public abstract Task<int> CountUnitsAsync(PhaseContext context, CancellationToken cancellationToken);

    /// <summary>The key of unit <paramref name="unitIndex"/>'s artifact.</summary>
    /// <param name="unitIndex">The 1-based unit index.</param>
    /// <value>Default: <c>{type}_{index}</c>.</value>
    public virtual string GetUnitKey(int unitIndex) => $"{UnitArtifact.Type}_{unitIndex}";

    /// <summary>Generates one unit.</summary>
    /// <param name="context">The unit context: index, overrides, lineage, backends.</param>
    /// <param name="cancellationToken">Cancels the unit.</param>
    public abstract Task<UnitResult> GenerateUnitAsync(UnitContext context, CancellationToken cancellationToken);

    /// <summary>An estimate of one unit's cost, used to stop before a budget is exceeded.</summary>
    /// <param name="context">The unit context.</param>
    /// <value>Default: 0.</value>
    public virtual decimal EstimateUnitCost(UnitContext context) => 0m;

    /// <summary>Builds the phase output (the checkpoint's JSON summary) from the finished units.</summary>
    /// <param name="units">The units, by index.</param>
    /// <value>Default: an object with the unit count and the keys.</value>
    public virtual JsonElement? SummarizeOutput(IReadOnlyList<CompletedUnit> units) =>
        JsonSerializer.SerializeToElement(new { units = units.Count, keys = units.Select(u => u.Artifact.Key).ToArray() });

    /// <summary>Unit phases are executed by the runner unit by unit; this method is not called.</summary>
    /// <param name="context">Unused.</param>
    /// <param name="cancellationToken">Unused.</param>
    public sealed override Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken) =>
        throw new NotSupportedException("Unit phases are executed unit by unit by the runner.");
}

/// <summary>What a plain phase produced.</summary>
/// <param name="Artifacts">The artifacts.</param>
/// <param name="Output">The phase output (the checkpoint's JSON summary).</param>
/// <param name="Cost">What the phase cost.</param>
public sealed record PhaseResult(IReadOnlyList<PhaseArtifact> Artifacts, JsonElement? Output = null, decimal Cost = 0m);

/// <summary>An artifact produced by a phase.</summary>
/// <param name="Type">The artifact type (declared in <see cref="Phase.Artifacts"/>).</param>
/// <param name="Key">The artifact key.</param>
/// <param name="Content">The content.</param>
/// <param name="Metadata">How it was produced.</param>
public sealed record PhaseArtifact(string Type, string Key, ArtifactContent Content, ArtifactMetadata? Metadata = null);

/// <summary>What one unit produced.</summary>
/// <param name="Content">The unit's artifact content.</param>
/// <param name="Metadata">How it was produced (prompt, model, seed, job id).</param>
/// <param name="Cost">What the unit cost.</param>
public sealed record UnitResult(ArtifactContent Content, ArtifactMetadata? Metadata = null, decimal Cost = 0m);

/// <summary>Caller overrides for regenerating a unit.</summary>
/// <param name="Prompt">Use this prompt instead of the planned one.</param>
/// <param name="Model">Use this model instead of the default.</param>
/// <param name="Seed">Use this seed.</param>
public sealed record UnitOverrides(string? Prompt = null, string? Model = null, long? Seed = null)
{
    /// <summary>No overrides.</summary>
    public static UnitOverrides None { get; } = new();
}

/// <summary>A named, ordered list of phases; the last one is terminal.</summary>
public sealed class PipelineDefinition
{
    /// <summary>Creates the pipeline.</summary>
    /// <param name="name">Its name.</param>
    /// <param name="phases">Its phases in order (phase 1 first).</param>
    public PipelineDefinition(string name, IReadOnlyList<Phase> phases)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(phases);
        if (phases.Count == 0)
        {
            throw new ArgumentException($"Pipeline '{name}' needs at least one phase.", nameof(phases));
        }

        var duplicate = phases.SelectMany(p => p.Artifacts).GroupBy(a => a.Type).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"Pipeline '{name}' declares artifact type '{duplicate.Key}' in more than one phase; each type belongs to one phase.", nameof(phases));
        }

        Name = name;
        Phases = phases;
    }

    /// <summary>The pipeline's name.</summary>
    public string Name { get; }

    /// <summary>The phases, phase 1 first.</summary>
    public IReadOnlyList<Phase> Phases { get; }

    /// <summary>The number of the terminal phase.</summary>
    public int TerminalPhase => Phases.Count;

    /// <summary>Returns phase <paramref name="number"/> (1-based).</summary>
    /// <param name="number">The phase number.</param>
    public Phase GetPhase(int number) =>
        number >= 1 && number <= Phases.Count
            ? Phases[number - 1]
            : throw new ArgumentOutOfRangeException(nameof(number), number, $"Pipeline '{Name}' has phases 1 to {Phases.Count}.");
}
