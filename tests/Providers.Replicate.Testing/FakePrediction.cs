using System.Globalization;
using System.Text.Json.Nodes;

namespace Checkpointing.Providers.Replicate.Testing;

/// <summary>A prediction held by the fake server; all state changes happen under its lock.</summary>
public sealed class FakePrediction
{
    private readonly object _gate = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal FakePrediction(string id, string model, string version, JsonObject input, FakeModel behaviour, DateTimeOffset createdAt, DateTimeOffset? deadline, string? webhook, JsonArray? webhookFilter)
    {
        Id = id;
        Model = model;
        Version = version;
        Input = input;
        Behaviour = behaviour;
        CreatedAt = createdAt;
        Deadline = deadline;
        Webhook = webhook;
        WebhookFilter = webhookFilter;
    }

    public string Id { get; }
    public string Model { get; }
    public string Version { get; }
    public JsonObject Input { get; }
    public FakeModel Behaviour { get; }
    public DateTimeOffset CreatedAt { get; }
    public DateTimeOffset? Deadline { get; }
    public string? Webhook { get; }
    public JsonArray? WebhookFilter { get; }
    public string Status { get; private set; } = "starting";
    public DateTimeOffset? StartedAt { get; private set; }
    public DateTimeOffset? CompletedAt { get; private set; }
    public string? Error { get; private set; }
    public string Logs { get; private set; } = "";
    public List<string> Files { get; } = [];
    public List<string> Tokens { get; } = [];
    public double? PredictTime { get; private set; }
    public CancellationTokenSource Stop { get; } = new();
    public TaskCompletionSource Terminal { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool IsTerminal => Status is "succeeded" or "failed" or "canceled" or "aborted";

    /// <summary>Completes when the prediction changes next (new status or token).</summary>
    public Task Changed
    {
        get
        {
            lock (_gate)
            {
                return _changed.Task;
            }
        }
    }

    internal (string[] Tokens, string Status, bool Terminal) Snapshot()
    {
        lock (_gate)
        {
            return (Tokens.ToArray(), Status, IsTerminal);
        }
    }

    internal void Update(Action<FakePrediction> change)
    {
        TaskCompletionSource old;
        lock (_gate)
        {
            change(this);
            old = _changed;
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        old.TrySetResult();
        if (IsTerminal)
        {
            Terminal.TrySetResult();
        }
    }

    internal void SetStatus(string status, DateTimeOffset now)
    {
        Status = status;
        if (status == "processing" || (StartedAt is null && status is not ("starting" or "aborted") && !IsTerminal))
        {
            StartedAt ??= now;
        }

        if (IsTerminal)
        {
            CompletedAt = now;
        }
    }

    internal void Fail(string error, DateTimeOffset now)
    {
        Error = error;
        Logs += "loading model\nerror: " + error + "\n";
        SetStatus("failed", now);
    }

    internal void Bill(double seconds) => PredictTime = seconds;

    internal void AddLog(string line) => Logs += line + "\n";

    /// <summary>The prediction as the API shows it.</summary>
    internal JsonObject ToJson(Uri root, DateTimeOffset now, TimeSpan outputTtl, bool dataUris, Func<string, byte[]> readFile)
    {
        lock (_gate)
        {
            var removed = CompletedAt is { } done && now - done > outputTtl;
            JsonNode? output = null;
            if (!removed)
            {
                string FileValue(string path) => dataUris
                    ? $"data:{MediaTypeOf(path)};base64,{Convert.ToBase64String(readFile(path))}"
                    : new Uri(root, path).ToString();
                output = Behaviour.Output switch
                {
                    FakeOutputKind.Tokens => Tokens.Count == 0 && !IsTerminal ? null : new JsonArray(Tokens.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()),
                    FakeOutputKind.SingleFile => Files.Count == 0 ? null : JsonValue.Create(FileValue(Files[0])),
                    _ => Files.Count == 0 ? null : new JsonArray(Files.Select(f => (JsonNode?)JsonValue.Create(FileValue(f))).ToArray()),
                };
            }

            var metrics = new JsonObject();
            if (PredictTime is { } seconds)
            {
                metrics["predict_time"] = seconds;
                metrics["total_time"] = seconds + 0.25;
            }

            if (Behaviour.Output == FakeOutputKind.Tokens && IsTerminal)
            {
                metrics["input_token_count"] = Behaviour.InputTokens ?? 0;
                metrics["output_token_count"] = Tokens.Count;
            }

            var get = new Uri(root, $"v1/predictions/{Id}").ToString();
            var urls = new JsonObject
            {
                ["get"] = get,
                ["cancel"] = get + "/cancel",
                ["web"] = $"https://replicate.com/p/{Id}",
            };
            if (Behaviour.Output == FakeOutputKind.Tokens)
            {
                urls["stream"] = new Uri(root, $"stream/{Id}").ToString();
            }

            return new JsonObject
            {
                ["id"] = Id,
                ["model"] = Model,
                ["version"] = Version,
                ["input"] = removed ? new JsonObject() : Input.DeepClone(),
                ["output"] = output,
                ["logs"] = removed ? "" : Logs,
                ["error"] = Error,
                ["status"] = Status,
                ["source"] = "api",
                ["data_removed"] = removed,
                ["created_at"] = Iso(CreatedAt),
                ["started_at"] = StartedAt is { } s ? Iso(s) : null,
                ["completed_at"] = CompletedAt is { } c ? Iso(c) : null,
                ["deadline"] = Deadline is { } d ? Iso(d) : null,
                ["webhook"] = Webhook,
                ["webhook_events_filter"] = WebhookFilter?.DeepClone(),
                ["urls"] = urls,
                ["metrics"] = metrics,
            };
        }
    }

    internal static string Iso(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    internal static string MediaTypeOf(string path) => Path.GetExtension(path) switch
    {
        ".png" => "image/png",
        ".webp" => "image/webp",
        ".mp4" => "video/mp4",
        _ => "application/octet-stream",
    };
}
