using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;

namespace Checkpointing;

/// <summary>The names under which the SDK traces (<see cref="ActivitySource"/>) and counts (<see cref="Meter"/>).</summary>
public static class CheckpointingTelemetry
{
    /// <summary>The name of the SDK's <see cref="System.Diagnostics.ActivitySource"/> and <see cref="System.Diagnostics.Metrics.Meter"/>: <c>Checkpointing</c>.</summary>
    public const string Name = "Checkpointing";
}

internal static class Telemetry
{
    private static readonly string? Version = typeof(Telemetry).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;

    public static readonly ActivitySource Source = new(CheckpointingTelemetry.Name, Version);
    public static readonly Meter Meter = new(CheckpointingTelemetry.Name, Version);

    public static readonly Histogram<double> PhaseDuration = Meter.CreateHistogram<double>(
        "checkpointing.phase.duration", unit: "s", description: "Duration of phase executions.");
    public static readonly Counter<long> UnitsCompleted = Meter.CreateCounter<long>(
        "checkpointing.units.completed", unit: "{unit}", description: "Units of unit-based phases completed.");
    public static readonly Counter<long> CheckpointsCreated = Meter.CreateCounter<long>(
        "checkpointing.checkpoints.created", unit: "{checkpoint}", description: "Checkpoints committed.");
    public static readonly Counter<long> Edits = Meter.CreateCounter<long>(
        "checkpointing.edits", unit: "{edit}", description: "Artifact edits applied.");
    public static readonly Counter<long> BranchesCreated = Meter.CreateCounter<long>(
        "checkpointing.branches.created", unit: "{branch}", description: "Branches forked.");
    public static readonly Counter<double> GenerationCost = Meter.CreateCounter<double>(
        "checkpointing.generation.cost", unit: "{currency}", description: "Cost reported by generation backends, in the currency of gen_ai.usage.cost.currency.");
    public static readonly Histogram<double> GenerationDuration = Meter.CreateHistogram<double>(
        GenAiConventions.OperationDurationMetric,
        unit: "s",
        description: "Duration of generation backend calls (submit or re-attach, then wait).",
        tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = GenAiConventions.DurationBuckets });

    internal static class Tags
    {
        public const string Pipeline = "checkpointing.pipeline";
        public const string Phase = "checkpointing.phase";
        public const string RunId = "checkpointing.run.id";
        public const string CheckpointId = "checkpointing.checkpoint.id";
        public const string Branch = "checkpointing.branch";
        public const string EditKind = "checkpointing.edit.kind";
        public const string Outcome = "checkpointing.outcome";
    }
}
