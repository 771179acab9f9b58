namespace Checkpointing;

/// <summary>
/// The OpenTelemetry GenAI semantic convention names the SDK records on generation calls: attribute keys, well-known
/// values, the client duration histogram and its bucket boundaries. Provider packages compile this file as their own
/// (a linked source file), so the names are defined once and none of them is public API.
/// </summary>
internal static class GenAiConventions
{
    /// <summary><c>gen_ai.operation.name</c>: what the call does; the SDK's generation calls are <see cref="GenerateContent"/>.</summary>
    public const string OperationName = "gen_ai.operation.name";

    /// <summary><c>gen_ai.provider.name</c>: the backend's name, e.g. <c>replicate</c>.</summary>
    public const string ProviderName = "gen_ai.provider.name";

    /// <summary><c>gen_ai.request.model</c>: the model the caller asked for, e.g. <c>black-forest-labs/flux-dev</c>.</summary>
    public const string RequestModel = "gen_ai.request.model";

    /// <summary><c>gen_ai.response.model</c>: the model (or version) that ran, when the provider reports it.</summary>
    public const string ResponseModel = "gen_ai.response.model";

    /// <summary><c>gen_ai.response.id</c>: the backend's job id (a Replicate prediction id).</summary>
    public const string ResponseId = "gen_ai.response.id";

    /// <summary><c>gen_ai.usage.cost.amount</c> (proposed): what the call cost.</summary>
    public const string CostAmount = "gen_ai.usage.cost.amount";

    /// <summary><c>gen_ai.usage.cost.currency</c> (proposed): the ISO 4217 currency of the cost.</summary>
    public const string CostCurrency = "gen_ai.usage.cost.currency";

    /// <summary><c>gen_ai.usage.cost.source</c> (proposed): where the cost comes from, e.g. <see cref="CostFromConfiguredPrice"/>.</summary>
    public const string CostSource = "gen_ai.usage.cost.source";

    /// <summary><c>error.type</c>: a low-cardinality name of what went wrong (an exception type or a job status).</summary>
    public const string ErrorType = "error.type";

    /// <summary>The <see cref="OperationName"/> of a generation job: <c>generate_content</c>.</summary>
    public const string GenerateContent = "generate_content";

    /// <summary>The currency of a cost whose backend names none: <c>USD</c>.</summary>
    public const string DefaultCurrency = "USD";

    /// <summary>A <see cref="CostSource"/>: the cost was computed from prices the application configured.</summary>
    public const string CostFromConfiguredPrice = "configured_price";

    /// <summary>A <see cref="CostSource"/>: no price is configured for the model, so the cost is reported as 0.</summary>
    public const string CostUnpriced = "unpriced";

    /// <summary>The histogram <c>gen_ai.client.operation.duration</c>, in seconds.</summary>
    public const string OperationDurationMetric = "gen_ai.client.operation.duration";

    /// <summary>
    /// The convention's advised boundaries (0.01 s doubling to 81.92 s), continued to about 22 minutes because image
    /// and video jobs run for minutes.
    /// </summary>
    public static readonly IReadOnlyList<double> DurationBuckets =
        [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92, 163.84, 327.68, 655.36, 1310.72];

    /// <summary>The span name the conventions ask for: <c>{gen_ai.operation.name} {gen_ai.request.model}</c>.</summary>
    public static string SpanName(string operation, string? model) =>
        string.IsNullOrEmpty(model) ? operation : operation + " " + model;

    /// <summary>The <see cref="ErrorType"/> of an exception: its full type name.</summary>
    public static string ErrorTypeOf(Exception exception) => exception.GetType().FullName ?? exception.GetType().Name;
}
