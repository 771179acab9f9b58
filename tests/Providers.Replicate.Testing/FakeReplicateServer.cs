using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Checkpointing.Providers.Replicate.Testing;

/// <summary>
/// An in-process Replicate API on Kestrel (127.0.0.1, random port) following the reference contract: prediction
/// lifecycle with timings, <c>Prefer: wait</c>, <c>Cancel-After</c>, injected faults, output files with expiry, SSE,
/// signed webhooks and the files API. It records every request.
/// </summary>
public sealed class FakeReplicateServer : IAsyncDisposable
{
    /// <summary>The API token the fake accepts.</summary>
    public const string Token = "r8_FakeTokenDoNotLog_7f3a9c2e1b";

    /// <summary>The webhook signing secret the fake signs with.</summary>
    public const string WebhookSecret = "whsec_ZmFrZS1zZXJ2ZXItc2lnbmluZy1rZXktMDEyMzQ1Ng==";

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, FakePrediction> _predictions = new();
    private readonly ConcurrentDictionary<string, (byte[] Bytes, DateTimeOffset Expires)> _files = new();
    private readonly ConcurrentDictionary<string, (byte[] Bytes, string Name, string Type)> _uploads = new();
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<FakeFault>> _faults = new();
    private readonly HttpClient _webhookClient = new();
    private readonly List<Task> _drivers = [];
    private int _createCount;
    private int _sequence;

    private FakeReplicateServer(WebApplication app)
    {
        _app = app;
    }

    /// <summary>The server's root, e.g. <c>http://127.0.0.1:12345/</c>.</summary>
    public Uri Root { get; private set; } = null!;

    /// <summary>The API base URL, <c>{Root}v1/</c>.</summary>
    public Uri BaseUrl => new(Root, "v1/");

    /// <summary>The models served, by <c>owner/name</c>.</summary>
    public ConcurrentDictionary<string, FakeModel> Models { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Model versions (64-hex ids) and the model each belongs to.</summary>
    public ConcurrentDictionary<string, string> Versions { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>How long output files and data live after completion.</summary>
    public TimeSpan OutputTtl { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Multiplies <c>Cancel-After</c> durations, so a 5 s minimum can run in milliseconds.</summary>
    public double DeadlineScale { get; set; } = 1.0;

    /// <summary>Multiplies <c>Prefer: wait=N</c> durations.</summary>
    public double SyncWaitScale { get; set; } = 1.0;

    /// <summary>Page size of <c>GET /v1/predictions</c>.</summary>
    public int ListPageSize { get; set; } = 100;

    /// <summary>Sends file outputs of sync-mode answers as <c>data:</c> URIs.</summary>
    public bool SyncOutputsAsDataUris { get; set; }

    /// <summary>Sends every webhook delivery twice (as Replicate does on retries).</summary>
    public bool DuplicateWebhooks { get; set; }

    /// <summary>The largest upload accepted by <c>POST /v1/files</c>.</summary>
    public long MaxUploadBytes { get; set; } = 100L * 1024 * 1024;

    /// <summary>Handles <c>POST /hooks</c> (a webhook receiver the test wires to the backend).</summary>
    public Func<HttpContext, Task>? WebhookReceiver { get; set; }

    /// <summary>Predictions actually created (429 and refused creates do not count).</summary>
    public int CreateCount => Volatile.Read(ref _createCount);

    /// <summary>Every request seen, in order.</summary>
    public IReadOnlyList<RecordedRequest> Requests => _requests.ToArray();

    /// <summary>The predictions, newest last.</summary>
    public IReadOnlyList<FakePrediction> Predictions => _predictions.Values.OrderBy(p => p.CreatedAt).ToList();

    /// <summary>Webhook deliveries sent: (status code of the receiver, body).</summary>
    public ConcurrentQueue<(int Status, string Body)> WebhookDeliveries { get; } = new();

    /// <summary>Uploaded files, by id.</summary>
    public IReadOnlyDictionary<string, (byte[] Bytes, string Name, string Type)> Uploads => _uploads;

    /// <summary>Starts a fake on a random loopback port.</summary>
    public static async Task<FakeReplicateServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var fake = new FakeReplicateServer(app);
        fake.Map();
        await app.StartAsync();
        fake.Root = new Uri(app.Urls.First().TrimEnd('/') + "/");
        return fake;
    }

    /// <summary>Injects a fault into the next request of an operation (create, get, list, cancel, upload, download, stream).</summary>
    public void Inject(string operation, FakeFault fault) => _faults.GetOrAdd(operation, _ => new()).Enqueue(fault);

    /// <summary>The prediction with this id.</summary>
    public FakePrediction Get(string id) => _predictions[id];

    /// <summary>The bytes of an output file the fake made.</summary>
    public byte[] FileBytes(string path) => _files[path].Bytes;

    /// <summary>Requests of one operation.</summary>
    public IReadOnlyList<RecordedRequest> RequestsOf(string operation) => Requests.Where(r => r.Operation == operation).ToList();

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var prediction in _predictions.Values)
        {
            await prediction.Stop.CancelAsync();
        }

        Task[] drivers;
        lock (_drivers)
        {
            drivers = [.. _drivers];
        }

        await Task.WhenAll(drivers).WaitAsync(TimeSpan.FromSeconds(5));
        await _app.StopAsync();
        await _app.DisposeAsync();
        _webhookClient.Dispose();
    }

    private static DateTimeOffset Now => DateTimeOffset.UtcNow;

    private void Map()
    {
        _app.Use(async (ctx, next) =>
        {
            var path = ctx.Request.Path.Value ?? "";
            if (path.StartsWith("/v1/", StringComparison.Ordinal) && !Authorized(ctx, required: true))
            {
                await Record(ctx, "unauthorized");
                await Problem(ctx, 401, """{"title":"Unauthenticated","detail":"You did not pass a valid authentication token","status":401}""");
                return;
            }

            if (!path.StartsWith("/v1/", StringComparison.Ordinal) && !Authorized(ctx, required: false))
            {
                await Problem(ctx, 401, """{"detail":"Invalid token","status":401}""");
                return;
            }

            await next(ctx);
        });

        _app.MapPost("/v1/models/{owner}/{name}/predictions", (RequestDelegate)(ctx =>
            CreateAsync(ctx, $"{ctx.Request.RouteValues["owner"]}/{ctx.Request.RouteValues["name"]}")));
        _app.MapPost("/v1/predictions", (RequestDelegate)(ctx => CreateAsync(ctx, null)));
        _app.MapGet("/v1/predictions", (RequestDelegate)ListAsync);
        _app.MapGet("/v1/predictions/{id}", (RequestDelegate)GetAsync);
        _app.MapPost("/v1/predictions/{id}/cancel", (RequestDelegate)CancelAsync);
        _app.MapPost("/v1/files", (RequestDelegate)UploadAsync);
        _app.MapGet("/v1/files/{id}", (RequestDelegate)GetFileAsync);
        _app.MapGet("/delivery/{id}/{file}", (RequestDelegate)DownloadAsync);
        _app.MapGet("/stream/{id}", (RequestDelegate)StreamAsync);
        _app.MapPost("/hooks", (RequestDelegate)(ctx => WebhookReceiver is { } receiver ? receiver(ctx) : Problem(ctx, 404, """{"detail":"no receiver"}""")));
    }

    private static bool Authorized(HttpContext ctx, bool required)
    {
        var header = ctx.Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header))
        {
            return !required;
        }

        return header == $"Bearer {Token}" || header == $"Token {Token}";
    }

    private async Task<string?> Record(HttpContext ctx, string operation, bool readBody = false)
    {
        string? body = null;
        if (readBody)
        {
            ctx.Request.EnableBuffering();
            using var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8, leaveOpen: true);
            body = await reader.ReadToEndAsync();
            ctx.Request.Body.Position = 0;
        }

        var headers = ctx.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString());
        _requests.Enqueue(new RecordedRequest(operation, ctx.Request.Method, ctx.Request.Path + ctx.Request.QueryString, TimeProvider.System.GetTimestamp(), headers, body));
        return body;
    }

    private FakeFault? TakeFault(string operation) =>
        _faults.TryGetValue(operation, out var queue) && queue.TryDequeue(out var fault) ? fault : null;

    private static async Task ApplyFault(HttpContext ctx, FakeFault fault)
    {
        if (fault.Hang > TimeSpan.Zero)
        {
            try
            {
                await Task.Delay(fault.Hang, ctx.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        if (fault.Abort)
        {
            ctx.Abort();
            return;
        }

        foreach (var (name, value) in fault.Headers)
        {
            ctx.Response.Headers[name] = value;
        }

        await Problem(ctx, fault.Status == 0 ? 500 : fault.Status, fault.Body ?? $$"""{"detail":"injected {{fault.Status}}","status":{{fault.Status}}}""");
    }

    private static async Task Problem(HttpContext ctx, int status, string body)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/problem+json";
        await ctx.Response.WriteAsync(body);
    }

    private static async Task Json(HttpContext ctx, int status, JsonNode body)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(body.ToJsonString());
    }

    private JsonObject Show(FakePrediction prediction, bool dataUris = false) =>
        prediction.ToJson(Root, Now, OutputTtl, dataUris, path => _files[path].Bytes);

    // ---- predictions ----

    private async Task CreateAsync(HttpContext ctx, string? model)
    {
        var text = await Record(ctx, "create", readBody: true);
        var fault = TakeFault("create");
        if (fault is { AfterCreate: false })
        {
            await ApplyFault(ctx, fault);
            return;
        }

        var body = JsonNode.Parse(text!)!.AsObject();
        var version = "hidden";
        if (model is null)
        {
            var requested = body["version"]?.ToString() ?? "";
            var colon = requested.IndexOf(':', StringComparison.Ordinal);
            model = colon > 0 ? requested[..colon] : Versions.GetValueOrDefault(requested) ?? requested;
            version = colon > 0 ? requested[(colon + 1)..] : requested;
        }

        if (!Models.TryGetValue(model, out var behaviour))
        {
            await Problem(ctx, 404, $$"""{"detail":"The requested model {{model}} does not exist","status":404}""");
            return;
        }

        if (body["input"] is not JsonObject input)
        {
            await Problem(ctx, 422, """{"title":"Input validation failed","detail":"- input is required","status":422}""");
            return;
        }

        var missing = behaviour.RequiredInputs.Where(r => input[r] is null).ToList();
        if (missing.Count > 0)
        {
            await Problem(ctx, 422, $$"""{"title":"Input validation failed","detail":"- input: {{string.Join(", ", missing)}} is required","status":422}""");
            return;
        }

        DateTimeOffset? deadline = null;
        if (ctx.Request.Headers["Cancel-After"].ToString() is { Length: > 0 } cancelAfter)
        {
            if (ParseDuration(cancelAfter) is not { } duration || duration < TimeSpan.FromSeconds(5))
            {
                await Problem(ctx, 400, $$"""{"detail":"Invalid Cancel-After '{{cancelAfter}}': use e.g. 30s, 5m, minimum 5s","status":400}""");
                return;
            }

            deadline = Now + duration * DeadlineScale;
        }

        var id = $"fake{Interlocked.Increment(ref _sequence):D4}{Guid.NewGuid():N}"[..20];
        var prediction = new FakePrediction(id, model, version, input, behaviour, Now, deadline, body["webhook"]?.ToString(), body["webhook_events_filter"] as JsonArray);
        _predictions[id] = prediction;
        Interlocked.Increment(ref _createCount);
        lock (_drivers)
        {
            _drivers.Add(Task.Run(() => DriveAsync(prediction)));
        }

        if (fault is not null)
        {
            await ApplyFault(ctx, fault);
            return;
        }

        var prefer = ctx.Request.Headers["Prefer"].ToString();
        var dataUris = false;
        if (prefer.StartsWith("wait", StringComparison.Ordinal))
        {
            var seconds = prefer.StartsWith("wait=", StringComparison.Ordinal) && int.TryParse(prefer[5..], CultureInfo.InvariantCulture, out var n) ? n : 60;
            await Task.WhenAny(prediction.Terminal.Task, Task.Delay(TimeSpan.FromSeconds(seconds * SyncWaitScale), ctx.RequestAborted));
            ctx.Response.Headers["Preference-Applied"] = $"wait={seconds}";
            dataUris = SyncOutputsAsDataUris;
        }

        await Json(ctx, 201, Show(prediction, dataUris));
    }

    private async Task GetAsync(HttpContext ctx)
    {
        await Record(ctx, "get");
        if (TakeFault("get") is { } fault)
        {
            await ApplyFault(ctx, fault);
            return;
        }

        if (!_predictions.TryGetValue(ctx.Request.RouteValues["id"]!.ToString()!, out var prediction))
        {
            await Problem(ctx, 404, """{"detail":"Prediction does not exist","status":404}""");
            return;
        }

        await Json(ctx, 200, Show(prediction));
    }

    private async Task ListAsync(HttpContext ctx)
    {
        await Record(ctx, "list");
        if (TakeFault("list") is { } fault)
        {
            await ApplyFault(ctx, fault);
            return;
        }

        var after = ctx.Request.Query["created_after"].ToString() is { Length: > 0 } a ? DateTimeOffset.Parse(a, CultureInfo.InvariantCulture) : DateTimeOffset.MinValue;
        var offset = int.TryParse(ctx.Request.Query["cursor"], CultureInfo.InvariantCulture, out var c) ? c : 0;
        var all = _predictions.Values.Where(p => p.CreatedAt > after).OrderByDescending(p => p.CreatedAt).ToList();
        var page = all.Skip(offset).Take(ListPageSize).ToList();
        string? next = offset + ListPageSize < all.Count
            ? new Uri(BaseUrl, $"predictions?created_after={Uri.EscapeDataString(ctx.Request.Query["created_after"].ToString())}&cursor={offset + ListPageSize}").ToString()
            : null;
        await Json(ctx, 200, new JsonObject
        {
            ["next"] = next,
            ["previous"] = null,
            ["results"] = new JsonArray(page.Select(p => (JsonNode?)Show(p)).ToArray()),
        });
    }

    private async Task CancelAsync(HttpContext ctx)
    {
        await Record(ctx, "cancel");
        if (TakeFault("cancel") is { } fault)
        {
            await ApplyFault(ctx, fault);
            return;
        }

        if (!_predictions.TryGetValue(ctx.Request.RouteValues["id"]!.ToString()!, out var prediction))
        {
            await Problem(ctx, 404, """{"detail":"Prediction does not exist","status":404}""");
            return;
        }

        var cancelled = false;
        prediction.Update(p =>
        {
            if (!p.IsTerminal)
            {
                p.Bill(p.StartedAt is { } started ? Math.Round((Now - started).TotalSeconds, 3) : 0);
                p.SetStatus("canceled", Now);
                cancelled = true;
            }
        });
        if (cancelled)
        {
            await prediction.Stop.CancelAsync();
            await SendWebhookAsync(prediction);
        }

        await Json(ctx, 200, Show(prediction));
    }

    private async Task DriveAsync(FakePrediction prediction)
    {
        var b = prediction.Behaviour;
        var token = prediction.Stop.Token;
        try
        {
            var startAt = prediction.CreatedAt + b.Starting;
            if (prediction.Deadline is { } deadline && deadline < startAt)
            {
                await DelayUntil(deadline, token);
                prediction.Update(p => p.SetStatus("aborted", Now));
                await SendWebhookAsync(prediction);
                return;
            }

            await DelayUntil(startAt, token);
            prediction.Update(p =>
            {
                p.SetStatus("processing", Now);
                if (b.RunningStatus is { } odd)
                {
                    p.SetStatus(odd, Now);
                }

                p.AddLog("running");
            });
            var endAt = Now + b.Processing;
            if (prediction.Deadline is { } runDeadline && runDeadline < endAt)
            {
                await DelayUntil(runDeadline, token);
                prediction.Update(p =>
                {
                    p.Bill(Math.Round((Now - p.StartedAt!.Value).TotalSeconds, 3));
                    p.SetStatus("canceled", Now);
                });
                await SendWebhookAsync(prediction);
                return;
            }

            if (b.Output == FakeOutputKind.Tokens)
            {
                var step = b.Processing / Math.Max(1, b.Tokens.Count);
                foreach (var t in b.Tokens)
                {
                    await Task.Delay(step, token);
                    prediction.Update(p => p.Tokens.Add(t));
                }
            }
            else
            {
                await DelayUntil(endAt, token);
            }

            prediction.Update(p =>
            {
                p.Bill(b.PredictTime);
                if (b.FailWith is { } error)
                {
                    p.Fail(error, Now);
                    return;
                }

                if (b.Output != FakeOutputKind.Tokens)
                {
                    var count = b.Output == FakeOutputKind.SingleFile ? 1 : p.Input["num_outputs"]?.GetValue<int>() ?? b.Files;
                    for (var i = 0; i < count; i++)
                    {
                        var path = $"delivery/{p.Id}/out-{i}{b.Extension}";
                        _files[path] = (b.Content?.Invoke(p.Input, i) ?? MakeFile(b.Extension, p.Id, i), Now + OutputTtl);
                        p.Files.Add(path);
                    }
                }

                p.SetStatus("succeeded", Now);
            });
            await SendWebhookAsync(prediction);
        }
        catch (OperationCanceledException)
        {
            // Cancelled through the API or the server stopped.
        }
    }

    private static async Task DelayUntil(DateTimeOffset when, CancellationToken token)
    {
        var wait = when - Now;
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, token);
        }
    }

    /// <summary>Bytes whose magic numbers match the extension, unique per prediction and index.</summary>
    public static byte[] MakeFile(string extension, string id, int index)
    {
        byte[] header = extension switch
        {
            ".png" => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A],
            ".mp4" => [0, 0, 0, 0x18, (byte)'f', (byte)'t', (byte)'y', (byte)'p', (byte)'i', (byte)'s', (byte)'o', (byte)'m'],
            ".webp" => [(byte)'R', (byte)'I', (byte)'F', (byte)'F', 0, 0, 0, 0, (byte)'W', (byte)'E', (byte)'B', (byte)'P'],
            _ => [],
        };
        var payload = Encoding.UTF8.GetBytes($"|{id}|{index}|" + new string('x', 4096));
        return [.. header, .. payload];
    }

    private static TimeSpan? ParseDuration(string value)
    {
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var bare))
        {
            return TimeSpan.FromSeconds(bare);
        }

        var total = TimeSpan.Zero;
        var matched = false;
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(value, @"(\d+(?:\.\d+)?)(h|m|s)"))
        {
            var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            total += m.Groups[2].Value switch { "h" => TimeSpan.FromHours(n), "m" => TimeSpan.FromMinutes(n), _ => TimeSpan.FromSeconds(n) };
            matched = true;
        }

        return matched ? total : null;
    }

    private async Task SendWebhookAsync(FakePrediction prediction)
    {
        if (prediction.Webhook is not { } url)
        {
            return;
        }

        if (prediction.WebhookFilter is { } filter && !filter.Any(f => f?.ToString() == "completed"))
        {
            return;
        }

        var body = Encoding.UTF8.GetBytes(Show(prediction).ToJsonString());
        var id = "msg_" + Guid.NewGuid().ToString("N");
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var signature = ReplicateWebhookVerifier.Sign(WebhookSecret, id, timestamp, body);
        for (var attempt = 0; attempt < (DuplicateWebhooks ? 2 : 1); attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new("application/json");
            request.Headers.Add("webhook-id", id);
            request.Headers.Add("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
            request.Headers.Add("webhook-signature", "v1,bm90LXRoZS1yaWdodC1zaWduYXR1cmUtYXQtYWxsLXJlYWxseQ== " + signature);
            try
            {
                using var response = await _webhookClient.SendAsync(request);
                WebhookDeliveries.Enqueue(((int)response.StatusCode, Encoding.UTF8.GetString(body)));
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
            {
                WebhookDeliveries.Enqueue((0, Encoding.UTF8.GetString(body)));
            }
        }
    }

    // ---- files ----

    private async Task UploadAsync(HttpContext ctx)
    {
        await Record(ctx, "upload");
        if (TakeFault("upload") is { } fault)
        {
            await ApplyFault(ctx, fault);
            return;
        }

        if (!ctx.Request.HasFormContentType)
        {
            await Problem(ctx, 400, """{"detail":"Expected multipart/form-data","status":400}""");
            return;
        }

        var form = await ctx.Request.ReadFormAsync();
        if (form.Files.GetFile("content") is not { } file)
        {
            await Problem(ctx, 400, """{"detail":"The 'content' part is required","status":400}""");
            return;
        }

        if (file.Length > MaxUploadBytes)
        {
            await Problem(ctx, 413, """{"detail":"File is too large (maximum 100 MB)","status":413}""");
            return;
        }

        using var copy = new MemoryStream();
        await file.CopyToAsync(copy);
        var id = "file" + Guid.NewGuid().ToString("N")[..12];
        var type = form["type"].ToString() is { Length: > 0 } t ? t : "application/octet-stream";
        var name = form["filename"].ToString() is { Length: > 0 } n ? n : file.FileName;
        _uploads[id] = (copy.ToArray(), name, type);
        await Json(ctx, 201, FileJson(id));
    }

    private async Task GetFileAsync(HttpContext ctx)
    {
        await Record(ctx, "file");
        var id = ctx.Request.RouteValues["id"]!.ToString()!;
        if (!_uploads.ContainsKey(id))
        {
            await Problem(ctx, 404, """{"detail":"File does not exist","status":404}""");
            return;
        }

        await Json(ctx, 200, FileJson(id));
    }

    private JsonObject FileJson(string id)
    {
        var (bytes, name, type) = _uploads[id];
        return new JsonObject
        {
            ["id"] = id,
            ["name"] = name,
            ["content_type"] = type,
            ["size"] = bytes.Length,
            ["etag"] = Convert.ToHexString(System.Security.Cryptography.MD5.HashData(bytes)).ToLowerInvariant(),
            ["checksums"] = new JsonObject { ["sha256"] = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes)).ToLowerInvariant() },
            ["metadata"] = new JsonObject(),
            ["created_at"] = FakePrediction.Iso(Now),
            ["expires_at"] = FakePrediction.Iso(Now.AddDays(1)),
            ["urls"] = new JsonObject { ["get"] = new Uri(BaseUrl, $"files/{id}").ToString() },
        };
    }

    private async Task DownloadAsync(HttpContext ctx)
    {
        await Record(ctx, "download");
        if (TakeFault("download") is { } fault)
        {
            await ApplyFault(ctx, fault);
            return;
        }

        var path = $"delivery/{ctx.Request.RouteValues["id"]}/{ctx.Request.RouteValues["file"]}";
        if (!_files.TryGetValue(path, out var file) || file.Expires < Now)
        {
            await Problem(ctx, 404, """{"detail":"Not found","status":404}""");
            return;
        }

        ctx.Response.ContentType = FakePrediction.MediaTypeOf(path);
        ctx.Response.ContentLength = file.Bytes.Length;
        await ctx.Response.Body.WriteAsync(file.Bytes);
    }

    // ---- streaming ----

    private async Task StreamAsync(HttpContext ctx)
    {
        await Record(ctx, "stream");
        if (!_predictions.TryGetValue(ctx.Request.RouteValues["id"]!.ToString()!, out var prediction))
        {
            await Problem(ctx, 404, """{"detail":"Prediction does not exist","status":404}""");
            return;
        }

        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-store";
        await ctx.Response.WriteAsync(": connected\n\n");
        var sent = 0;
        while (!ctx.RequestAborted.IsCancellationRequested)
        {
            var changed = prediction.Changed;
            var (tokens, status, terminal) = prediction.Snapshot();
            var fresh = tokens.Skip(sent).ToArray();

            foreach (var token in fresh)
            {
                sent++;
                var data = string.Join("\n", token.Split('\n').Select(line => "data: " + line));
                await ctx.Response.WriteAsync($"event: output\nid: 1690212292:{sent}\n{data}\n\n");
            }

            await ctx.Response.Body.FlushAsync();
            if (terminal)
            {
                var done = status switch
                {
                    "succeeded" => "{}",
                    "failed" => """{"reason":"error"}""",
                    _ => """{"reason":"canceled"}""",
                };
                if (status == "failed")
                {
                    await ctx.Response.WriteAsync($"event: error\ndata: {JsonSerializer.Serialize(new { detail = prediction.Error })}\n\n");
                }

                await ctx.Response.WriteAsync($"event: done\ndata: {done}\n\n");
                return;
            }

            await Task.WhenAny(changed, Task.Delay(1000, ctx.RequestAborted));
        }
    }
}
