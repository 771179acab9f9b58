using System.Globalization;
using System.Text;
using Microsoft.Extensions.Options;

namespace Checkpointing.Providers.Replicate;

/// <summary>Options of the Replicate backend, set with <c>UseReplicate</c> and validated at start-up.</summary>
/// <remarks>
/// When <see cref="ApiToken"/> is not set, the <c>REPLICATE_API_TOKEN</c> environment variable is used; when
/// <see cref="WebhookSecret"/> is not set, <c>REPLICATE_WEBHOOK_SECRET</c> is used. The token is never logged and
/// <see cref="ToString"/> does not show it.
/// </remarks>
public sealed class ReplicateOptions
{
    /// <summary>The environment variable read when <see cref="ApiToken"/> is not set: <c>REPLICATE_API_TOKEN</c>.</summary>
    public const string ApiTokenEnvironmentVariable = "REPLICATE_API_TOKEN";

    /// <summary>The environment variable read when <see cref="WebhookSecret"/> is not set: <c>REPLICATE_WEBHOOK_SECRET</c>.</summary>
    public const string WebhookSecretEnvironmentVariable = "REPLICATE_WEBHOOK_SECRET";

    /// <summary>The environment variable read when <see cref="BaseUrl"/> is left at its default: <c>REPLICATE_BASE_URL</c>.</summary>
    public const string BaseUrlEnvironmentVariable = "REPLICATE_BASE_URL";

    /// <summary>The default API address.</summary>
    public static readonly Uri DefaultBaseUrl = new("https://api.replicate.com/v1/");

    /// <summary>The API token (<c>r8_…</c>), sent as a bearer token.</summary>
    /// <value>Default: the <c>REPLICATE_API_TOKEN</c> environment variable. Required.</value>
    public string? ApiToken { get; set; }

    /// <summary>The API's base address.</summary>
    /// <value>Default: <c>https://api.replicate.com/v1/</c>. Must be an absolute http(s) URL.</value>
    public Uri BaseUrl { get; set; } = DefaultBaseUrl;

    /// <summary>The <c>User-Agent</c> sent with every request.</summary>
    /// <value>Default: <c>Checkpointing.Providers.Replicate/{version}</c>.</value>
    public string UserAgent { get; set; } = "Checkpointing.Providers.Replicate/" + (typeof(ReplicateOptions).Assembly.GetName().Version?.ToString(3) ?? "0");

    /// <summary>The model used when a request names the alias <see cref="ReplicateModels.DefaultText"/> (<c>text</c>).</summary>
    /// <value>Default: <c>meta/meta-llama-3-70b-instruct</c>.</value>
    public string DefaultTextModel { get; set; } = ReplicateModels.Llama3_70BInstruct;

    /// <summary>The model used when a request names the alias <see cref="ReplicateModels.DefaultImage"/> (<c>image</c>).</summary>
    /// <value>Default: <c>black-forest-labs/flux-dev</c>.</value>
    public string DefaultImageModel { get; set; } = ReplicateModels.FluxDev;

    /// <summary>The model used when a request names the alias <see cref="ReplicateModels.DefaultVideo"/> (<c>video</c>).</summary>
    /// <value>Default: <c>minimax/hailuo-02</c>.</value>
    public string DefaultVideoModel { get; set; } = ReplicateModels.Hailuo02;

    /// <summary>Prices per model (<c>owner/name</c>), used to compute <see cref="GenerationResult.Cost"/>.</summary>
    /// <value>Default: FLUX schnell, dev and 1.1 pro per image and Llama 3 70B per token; add the video models you use.</value>
    public IDictionary<string, ReplicatePrice> Prices { get; } = new Dictionary<string, ReplicatePrice>(StringComparer.OrdinalIgnoreCase)
    {
        [ReplicateModels.FluxSchnell] = new() { PerImage = 0.003m },
        [ReplicateModels.FluxDev] = new() { PerImage = 0.025m },
        [ReplicateModels.Flux11Pro] = new() { PerImage = 0.04m },
        [ReplicateModels.Llama3_70BInstruct] = new() { PerInputToken = 0.65m / 1_000_000m, PerOutputToken = 2.75m / 1_000_000m },
    };

    /// <summary>Models created with <c>Prefer: wait</c> (the request is held until the prediction finishes), for fast models.</summary>
    /// <value>Default: FLUX schnell, dev and 1.1 pro.</value>
    public ISet<string> SyncModels { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        ReplicateModels.FluxSchnell, ReplicateModels.FluxDev, ReplicateModels.Flux11Pro,
    };

    /// <summary>How long a create with <c>Prefer: wait</c> is held at most, in seconds; after it the backend polls.</summary>
    /// <value>Default: 30. Between 1 and 60; 0 turns sync mode off.</value>
    public int SyncWaitSeconds { get; set; } = 30;

    /// <summary>The first delay between two polls of a running prediction.</summary>
    /// <value>Default: 1 second.</value>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest delay between two polls (long video jobs back off up to it).</summary>
    /// <value>Default: 5 seconds. At least <see cref="PollInterval"/>.</value>
    public TimeSpan MaxPollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How much the poll delay grows after each poll that finds the prediction still running.</summary>
    /// <value>Default: 1.5. Between 1 and 10.</value>
    public double PollBackoffFactor { get; set; } = 1.5;

    /// <summary>How long <c>WaitAsync</c> waits for a prediction to finish before giving up (the prediction keeps running).</summary>
    /// <value>Default: 35 minutes (Replicate stops predictions after 30).</value>
    public TimeSpan WaitTimeout { get; set; } = TimeSpan.FromMinutes(35);

    /// <summary>The timeout of one HTTP request (a create with <c>Prefer: wait</c> gets <see cref="SyncWaitSeconds"/> more).</summary>
    /// <value>Default: 30 seconds.</value>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The deadline sent as <c>Cancel-After</c> when a request sets no <see cref="GenerationRequest.Deadline"/>.</summary>
    /// <value>Default: 30 minutes. At least 5 seconds, or null to send none.</value>
    public TimeSpan? DefaultDeadline { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>How long the best-effort cancel sent when a caller cancels a wait may take.</summary>
    /// <value>Default: 5 seconds.</value>
    public TimeSpan CancelTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How many times a request refused with 429 (or a GET failing with 5xx) is retried.</summary>
    /// <value>Default: 5. Between 0 and 20.</value>
    public int MaxRetries { get; set; } = 5;

    /// <summary>The first delay of the exponential backoff used when a 429 carries no wait hint, and for 5xx.</summary>
    /// <value>Default: 500 ms.</value>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest wait between two retries, also the cap on a server's wait hint.</summary>
    /// <value>Default: 60 seconds.</value>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How far before a lost create's send time the reconciliation looks for the prediction it may have made.</summary>
    /// <value>Default: 30 seconds.</value>
    public TimeSpan ReconcileSlack { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The largest file <c>PrepareFileInputAsync</c> sends inline as a <c>data:</c> URI; larger files are uploaded.</summary>
    /// <value>Default: 256 KiB.</value>
    public int InlineFileLimit { get; set; } = 256 * 1024;

    /// <summary>An HTTPS address Replicate posts completion webhooks to; when set, every create asks for them.</summary>
    /// <value>Default: none (polling only).</value>
    public Uri? WebhookUrl { get; set; }

    /// <summary>The webhook signing secret (<c>whsec_…</c>, from <c>GET /v1/webhooks/default/secret</c>).</summary>
    /// <value>Default: the <c>REPLICATE_WEBHOOK_SECRET</c> environment variable. Required when <see cref="WebhookUrl"/> is set.</value>
    public string? WebhookSecret { get; set; }

    /// <summary>How far a webhook's timestamp may be from now.</summary>
    /// <value>Default: 5 minutes.</value>
    public TimeSpan WebhookTolerance { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Hosts (besides the API host) that receive the token when output files or streams are fetched. A leading dot
    /// matches subdomains.
    /// </summary>
    /// <value>Default: <c>replicate.delivery</c>, <c>.replicate.delivery</c>, <c>.replicate.com</c>.</value>
    public ISet<string> TrustedHosts { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "replicate.delivery", ".replicate.delivery", ".replicate.com",
    };

    /// <summary>Describes the options without secrets.</summary>
    /// <returns>The settings, with the token and secret shown only as set or not set.</returns>
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"ReplicateOptions {{ ApiToken = {(string.IsNullOrEmpty(ApiToken) ? "(not set)" : "(set)")}, ");
        text.Append(CultureInfo.InvariantCulture, $"BaseUrl = {BaseUrl}, SyncWaitSeconds = {SyncWaitSeconds}, PollInterval = {PollInterval}, ");
        text.Append(CultureInfo.InvariantCulture, $"MaxPollInterval = {MaxPollInterval}, WaitTimeout = {WaitTimeout}, DefaultDeadline = {DefaultDeadline}, ");
        text.Append(CultureInfo.InvariantCulture, $"WebhookUrl = {WebhookUrl}, WebhookSecret = {(string.IsNullOrEmpty(WebhookSecret) ? "(not set)" : "(set)")} }}");
        return text.ToString();
    }
}

/// <summary>The price of one model; every part that applies is added.</summary>
public sealed class ReplicatePrice
{
    /// <summary>A fixed price per prediction that succeeded.</summary>
    public decimal PerPrediction { get; set; }

    /// <summary>The price per output file (image) of a prediction that succeeded.</summary>
    public decimal PerImage { get; set; }

    /// <summary>The price per second of output video, taken from the input's <c>duration</c>, of a prediction that succeeded.</summary>
    public decimal PerVideoSecond { get; set; }

    /// <summary>The price per second of compute (<c>metrics.predict_time</c>), charged also for failed and cancelled predictions.</summary>
    public decimal PerPredictSecond { get; set; }

    /// <summary>The price per input token (<c>metrics.input_token_count</c>).</summary>
    public decimal PerInputToken { get; set; }

    /// <summary>The price per output token (<c>metrics.output_token_count</c>).</summary>
    public decimal PerOutputToken { get; set; }
}

internal sealed class ReplicateOptionsValidator : IValidateOptions<ReplicateOptions>
{
    public ValidateOptionsResult Validate(string? name, ReplicateOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ApiToken))
        {
            errors.Add($"ReplicateOptions.ApiToken is not set; set it in UseReplicate or the {ReplicateOptions.ApiTokenEnvironmentVariable} environment variable to an API token from replicate.com/account/api-tokens.");
        }

        if (options.BaseUrl is null || !options.BaseUrl.IsAbsoluteUri || (options.BaseUrl.Scheme != Uri.UriSchemeHttps && options.BaseUrl.Scheme != Uri.UriSchemeHttp))
        {
            errors.Add($"ReplicateOptions.BaseUrl is '{options.BaseUrl}'; set it to an absolute http(s) URL such as {ReplicateOptions.DefaultBaseUrl}.");
        }

        CheckModel(errors, nameof(ReplicateOptions.DefaultTextModel), options.DefaultTextModel);
        CheckModel(errors, nameof(ReplicateOptions.DefaultImageModel), options.DefaultImageModel);
        CheckModel(errors, nameof(ReplicateOptions.DefaultVideoModel), options.DefaultVideoModel);

        if (options.SyncWaitSeconds is < 0 or > 60)
        {
            errors.Add($"ReplicateOptions.SyncWaitSeconds is {options.SyncWaitSeconds}; set it between 1 and 60, or 0 to turn sync mode off.");
        }

        CheckPositive(errors, nameof(ReplicateOptions.PollInterval), options.PollInterval);
        if (options.MaxPollInterval < options.PollInterval)
        {
            errors.Add($"ReplicateOptions.MaxPollInterval is {options.MaxPollInterval}, less than PollInterval ({options.PollInterval}); set it to PollInterval or more.");
        }

        if (double.IsNaN(options.PollBackoffFactor) || options.PollBackoffFactor is < 1 or > 10)
        {
            errors.Add($"ReplicateOptions.PollBackoffFactor is {options.PollBackoffFactor.ToString(CultureInfo.InvariantCulture)}; set it between 1 (no backoff) and 10.");
        }

        CheckPositive(errors, nameof(ReplicateOptions.WaitTimeout), options.WaitTimeout);
        CheckPositive(errors, nameof(ReplicateOptions.RequestTimeout), options.RequestTimeout);
        CheckPositive(errors, nameof(ReplicateOptions.CancelTimeout), options.CancelTimeout);
        if (options.DefaultDeadline is { } deadline && deadline < TimeSpan.FromSeconds(5))
        {
            errors.Add($"ReplicateOptions.DefaultDeadline is {deadline}; Replicate's minimum Cancel-After is 5 seconds: set it to 00:00:05 or more, or null to send none.");
        }

        if (options.MaxRetries is < 0 or > 20)
        {
            errors.Add($"ReplicateOptions.MaxRetries is {options.MaxRetries}; set it between 0 and 20.");
        }

        CheckPositive(errors, nameof(ReplicateOptions.RetryBaseDelay), options.RetryBaseDelay);
        if (options.MaxRetryDelay < options.RetryBaseDelay)
        {
            errors.Add($"ReplicateOptions.MaxRetryDelay is {options.MaxRetryDelay}, less than RetryBaseDelay ({options.RetryBaseDelay}); set it to RetryBaseDelay or more.");
        }

        if (options.ReconcileSlack < TimeSpan.Zero)
        {
            errors.Add($"ReplicateOptions.ReconcileSlack is {options.ReconcileSlack}; set it to zero or more (30 seconds is a good value).");
        }

        if (options.InlineFileLimit is < 0 or > 10 * 1024 * 1024)
        {
            errors.Add($"ReplicateOptions.InlineFileLimit is {options.InlineFileLimit}; set it between 0 and 10485760 bytes (Replicate advises 262144).");
        }

        if (options.WebhookUrl is { } hook)
        {
            if (!hook.IsAbsoluteUri || (hook.Scheme != Uri.UriSchemeHttps && hook.Scheme != Uri.UriSchemeHttp))
            {
                errors.Add($"ReplicateOptions.WebhookUrl is '{hook}'; set it to the absolute HTTPS address of your webhook endpoint, or null for polling only.");
            }

            if (string.IsNullOrWhiteSpace(options.WebhookSecret))
            {
                errors.Add($"ReplicateOptions.WebhookSecret is not set but WebhookUrl is; set it (or {ReplicateOptions.WebhookSecretEnvironmentVariable}) to the whsec_ secret from GET /v1/webhooks/default/secret.");
            }
        }

        if (!string.IsNullOrWhiteSpace(options.WebhookSecret) && !ReplicateWebhookVerifier.TryDecodeSecret(options.WebhookSecret, out _))
        {
            errors.Add("ReplicateOptions.WebhookSecret is not a valid signing secret; set it to the value 'whsec_<base64>' returned by GET /v1/webhooks/default/secret.");
        }

        CheckPositive(errors, nameof(ReplicateOptions.WebhookTolerance), options.WebhookTolerance);
        foreach (var (model, price) in options.Prices)
        {
            if (price is null)
            {
                errors.Add($"ReplicateOptions.Prices['{model}'] is null; remove the entry or set a ReplicatePrice.");
            }
            else if (price.PerPrediction < 0 || price.PerImage < 0 || price.PerVideoSecond < 0 || price.PerPredictSecond < 0 || price.PerInputToken < 0 || price.PerOutputToken < 0)
            {
                errors.Add($"ReplicateOptions.Prices['{model}'] has a negative price; set every price to zero or more.");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void CheckModel(List<string> errors, string setting, string? model)
    {
        if (string.IsNullOrWhiteSpace(model) || !ModelRef.TryParse(model, out var parsed) || parsed.IsAlias)
        {
            errors.Add($"ReplicateOptions.{setting} is '{model}'; set it to a model as 'owner/name', 'owner/name:version' or a 64-hex version id.");
        }
    }

    private static void CheckPositive(List<string> errors, string setting, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            errors.Add($"ReplicateOptions.{setting} is {value}; set it to a positive duration.");
        }
    }
}
