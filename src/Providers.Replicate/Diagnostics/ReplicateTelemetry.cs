using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;

namespace Checkpointing.Providers.Replicate;

/// <summary>The name of the package's <see cref="ActivitySource"/> and <see cref="Meter"/>.</summary>
public static class ReplicateTelemetry
{
    /// <summary><c>Checkpointing.Providers.Replicate</c>.</summary>
    public const string Name = "Checkpointing.Providers.Replicate";
}

internal static class Telemetry
{
    private static readonly string? Version = typeof(Telemetry).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;

    public static readonly ActivitySource Source = new(ReplicateTelemetry.Name, Version);
    public static readonly Meter Meter = new(ReplicateTelemetry.Name, Version);

    public static readonly Counter<long> PredictionsCreated = Meter.CreateCounter<long>(
        "replicate.predictions.created", unit: "{prediction}", description: "Predictions created.");
    public static readonly Counter<long> PredictionsCompleted = Meter.CreateCounter<long>(
        "replicate.predictions.completed", unit: "{prediction}", description: "Predictions seen in a terminal status, by status.");
    public static readonly Histogram<double> PredictTime = Meter.CreateHistogram<double>(
        "replicate.prediction.predict_time", unit: "s", description: "Compute time Replicate reports per prediction.");
    public static readonly Counter<long> Retries = Meter.CreateCounter<long>(
        "replicate.http.retries", unit: "{retry}", description: "HTTP requests retried after 429, 5xx or a network error.");
    public static readonly Counter<long> Reconciliations = Meter.CreateCounter<long>(
        "replicate.predictions.reconciled", unit: "{request}", description: "Create requests with a lost answer, by whether their prediction was found.");
    public static readonly Counter<double> Cost = Meter.CreateCounter<double>(
        "replicate.cost", unit: "{currency}", description: "Cost of finished predictions from the configured prices.");

    internal static class Tags
    {
        public const string Model = "replicate.model";
        public const string Status = "replicate.status";
        public const string Operation = "replicate.operation";
        public const string PredictionId = "replicate.prediction.id";
        public const string Found = "replicate.found";
    }
}
