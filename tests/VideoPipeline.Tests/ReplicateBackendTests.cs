using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Checkpointing.Providers.Replicate.Testing;
using VideoPipeline.Tests.Support;

namespace VideoPipeline.Tests;

/// <summary>
/// The sample with <c>Checkpointing__Backend=replicate</c>, as separate processes, against an in-process fake Replicate
/// API: the phases are the same as with the studio backend; the hosting layer adapts their requests to each model.
/// </summary>
[Collection(SignalsCollection.Name)]
public sealed class ReplicateBackendTests
{
    private const string Planner = "meta/meta-llama-3-8b-instruct";
    private const string Flux = "black-forest-labs/flux-dev";
    private const string Hailuo = "minimax/hailuo-02";
    private const string Kling = "kwaivgi/kling-v2.1";
    private const int PlannerInputTokens = 1200;

    // What the fake LLM answers: prose and a code fence around the spec (as real models do), and a total_duration that
    // does not match its beats (3 + 3), which the adapter corrects.
    private const string SpecJson = """
        {"template":"product_reveal","total_duration":7,
         "beats":[{"id":"open","duration":3,"prompt":"a ceramic desk lamp on an oak desk","shot_type":"wide"},
                  {"id":"glow","duration":3,"prompt":"the lamp's shade starts to glow","shot_type":"close_up"}],
         "style":{"mood":"warm","palette":["#f4a261","#2a9d8f"],"lighting":"evening"},
         "product":{"name":"Lumen","category":"lighting"},"audio":{"music_style":"lofi"}}
        """;

    private const string Answer = "Here is the plan:\n```json\n" + SpecJson + "\n```";

    [Fact]
    public async Task The_four_phases_run_on_replicate_models_through_the_hosting_adapter()
    {
        await using var fake = await StartFakeAsync();
        using var app = ReplicateApp(fake);

        // Phase 1: one LLM prediction; the run pauses with its spec.
        var run = await app.SucceedAsync("run", "--prompt", "a ceramic desk lamp, cozy evening light", "--beats", "2", "--duration", "6");
        Assert.Contains("paused at phase 1 (plan)", run.Stdout);
        var plan = Ids.PausedCheckpoint(run.Stdout);
        var llm = Assert.Single(fake.RequestsOf("create"));
        Assert.Equal($"/v1/models/{Planner}/predictions", llm.Path);
        Assert.Equal($"Bearer {FakeReplicateServer.Token}", llm.Header("authorization"));
        var llmInput = Input(llm);
        Assert.StartsWith("a ceramic desk lamp, cozy evening light", llmInput["prompt"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("Plan 2 beats for a video of 6 seconds", llmInput["prompt"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("no Markdown code fences", llmInput["system_prompt"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("\"beats\": [{\"id\"", llmInput["system_prompt"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Null(llmInput["beats"]);
        Assert.Null(llmInput["duration"]);

        var spec = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(await ExportAsync(app, plan, "plan"), "spec.json"), TestContext.Current.CancellationToken))!;
        Assert.Equal(["open", "glow"], spec["beats"]!.AsArray().Select(b => b!["id"]!.GetValue<string>()));
        Assert.Equal("Lumen", spec["product"]!["name"]!.GetValue<string>());
        Assert.Equal(6, spec["total_duration"]!.GetValue<double>());

        // Phase 2: one FLUX prediction per beat; real PNGs land in the blob store.
        var storyboard = await app.SucceedAsync("continue", plan);
        Assert.Contains("paused at phase 2 (storyboard)", storyboard.Stdout);
        var images = Ids.PausedCheckpoint(storyboard.Stdout);
        var fluxCreates = Creates(fake, Flux);
        Assert.Equal(2, fluxCreates.Count);
        Assert.Equal(2, fluxCreates.Select(c => Input(c)["seed"]!.GetValue<long>()).Distinct().Count());
        var boardFolder = await ExportAsync(app, images, "storyboard");
        var beats = new Dictionary<int, byte[]>();
        foreach (var i in new[] { 1, 2 })
        {
            var png = await File.ReadAllBytesAsync(Path.Combine(boardFolder, $"beat_{i}.png"), TestContext.Current.CancellationToken);
            var facts = MediaProbe.ReadPng(png);
            Assert.Equal((64, 36), (facts.Width, facts.Height));
            Assert.True(File.Exists(BlobFile(app, png)), $"beat_{i} is not in the blob store");
            Assert.Contains(fluxCreates, c => png.SequenceEqual(FluxPng(Input(c))));
            beats[i] = png;
        }

        Assert.NotEqual(beats[1], beats[2]);

        // Phase 3: one Hailuo prediction per beat, the beat image sent inline as first_frame_image (no seed: MiniMax
        // takes none), the 3 s beat rounded up to the 6 s clip Hailuo 02 makes.
        var chunks = await app.SucceedAsync("continue", images);
        Assert.Contains("paused at phase 3 (chunks)", chunks.Stdout);
        var clips = Ids.PausedCheckpoint(chunks.Stdout);
        var hailuoCreates = Creates(fake, Hailuo);
        Assert.Equal(2, hailuoCreates.Count);
        foreach (var create in hailuoCreates)
        {
            var input = Input(create);
            var beat = input["prompt"]!.GetValue<string>().StartsWith("a ceramic desk lamp on an oak desk", StringComparison.Ordinal) ? 1 : 2;
            Assert.Equal(beats[beat], DataUri(input["first_frame_image"]!.GetValue<string>(), "image/png"));
            Assert.Equal(6, input["duration"]!.GetValue<int>());
            Assert.Null(input["seed"]);
            Assert.Null(input["start_image"]);
        }

        var clipFolder = await ExportAsync(app, clips, "chunks");
        Assert.All(new[] { 1, 2 }, i => Assert.True(MediaProbe.IsMp4(File.ReadAllBytes(Path.Combine(clipFolder, $"chunk_{i}.mp4")))));

        // Regenerate clip 2 with Kling: the first frame goes in start_image, uploaded through the files API this time.
        app.Environment["Replicate__InlineFileLimit"] = "0";
        await app.SucceedAsync("regenerate-chunk", clips, "2", "--model", "kling");
        app.Environment.Remove("Replicate__InlineFileLimit");
        var kling = Input(Assert.Single(Creates(fake, Kling)));
        Assert.Null(kling["first_frame_image"]);
        Assert.Equal(5, kling["duration"]!.GetValue<int>());
        var startImage = kling["start_image"]!.GetValue<string>();
        Assert.StartsWith(new Uri(fake.BaseUrl, "files/").ToString(), startImage, StringComparison.Ordinal);
        var upload = fake.Uploads[startImage[(startImage.LastIndexOf('/') + 1)..]];
        Assert.Equal(beats[2], upload.Bytes);
        Assert.Equal("image/png", upload.Type);

        // One create per unit, nothing paid twice; the cost is what the configured prices say about those predictions.
        Assert.Equal(1 + 2 + 2 + 1, fake.RequestsOf("create").Count);
        Assert.Equal(6, fake.Predictions.Count);
        var status = await app.SucceedAsync("status");
        Assert.Contains($"cost: {Money(ExpectedCost(fake))}", status.Stdout);

        // Phase 4 without ffmpeg: MP4 clips cannot be joined; one line says what to install.
        app.Environment["Media__Ffmpeg"] = "off";
        var assemble = await app.RunAsync("continue", clips);
        Assert.NotEqual(0, assemble.ExitCode);
        var error = Assert.Single(assemble.ErrorLines);
        Assert.StartsWith("error: phase 4 (assemble) failed", error, StringComparison.Ordinal);
        Assert.Contains("video/mp4", error, StringComparison.Ordinal);
        Assert.Contains("needs ffmpeg on PATH", error, StringComparison.Ordinal);
        Assert.Equal(6, fake.RequestsOf("create").Count);
    }

    [Fact]
    public async Task A_process_killed_while_clips_render_is_resumed_by_retry_without_creating_them_again()
    {
        await using var fake = await StartFakeAsync(clipTime: TimeSpan.FromSeconds(4));
        using var app = ReplicateApp(fake);
        app.Environment["Checkpointing__LeaseDuration"] = "00:00:02";
        var plan = Ids.PausedCheckpoint((await app.SucceedAsync("run", "--prompt", "a lamp", "--beats", "2", "--duration", "6")).Stdout);
        var images = Ids.PausedCheckpoint((await app.SucceedAsync("continue", plan)).Stdout);

        // Both clips are created (concurrency 2) and recorded at once; the process dies while they render.
        // (The kill waits 500 ms after the second create so the process has recorded both prediction ids.)
        var crashed = await app.RunAndKillAsync(
            line => line.Contains("phase 3 (chunks) started", StringComparison.Ordinal), () => Creates(fake, Hailuo).Count == 2, TimeSpan.FromMilliseconds(500), "continue", images);
        Assert.NotEqual(0, crashed.ExitCode);
        var created = Creates(fake, Hailuo);
        Assert.Equal(2, created.Count);
        Assert.All(fake.Predictions.Where(p => p.Model == Hailuo), p => Assert.False(p.IsTerminal));

        // Once the dead process's lease expires the run reads as interrupted; retry waits on the two predictions
        // instead of paying for new ones.
        await CrashTests.WaitForStatusAsync(app, "interrupted at phase 3 (chunks)");
        var retry = await app.SucceedAsync("retry");
        Assert.Contains("paused at phase 3 (chunks)", retry.Stdout);
        Assert.Equal(2, Creates(fake, Hailuo).Count);
        Assert.Equal(1 + 2 + 2, fake.RequestsOf("create").Count);
        var ids = fake.Predictions.Where(p => p.Model == Hailuo).Select(p => $"/v1/predictions/{p.Id}").ToHashSet();
        Assert.Equal(ids, fake.RequestsOf("get").Select(r => r.Path).Where(ids.Contains).ToHashSet());
        Assert.Contains($"cost: {Money(ExpectedCost(fake))}", (await app.SucceedAsync("status")).Stdout);
    }

    [Fact]
    public async Task Ctrl_C_while_clips_render_leaves_the_predictions_running_and_retry_reattaches_to_them()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Skip("Sends SIGINT through libc.");
        }

        await using var fake = await StartFakeAsync(clipTime: TimeSpan.FromSeconds(10));
        using var app = ReplicateApp(fake);
        var plan = Ids.PausedCheckpoint((await app.SucceedAsync("run", "--prompt", "a lamp", "--beats", "2", "--duration", "6")).Stdout);
        var images = Ids.PausedCheckpoint((await app.SucceedAsync("continue", plan)).Stdout);

        var interrupted = await app.RunAndSignalAsync(
            line => line.Contains("phase 3 (chunks) started", StringComparison.Ordinal), () => Creates(fake, Hailuo).Count == 2, TimeSpan.FromMilliseconds(500), "continue", images);
        Assert.True(interrupted.ExitCode == 130, interrupted.ToString());
        Assert.Equal(2, Creates(fake, Hailuo).Count);
        Assert.Empty(fake.RequestsOf("cancel")); // an interrupt is not a cancellation: a cancelled running prediction is billed
        Assert.Contains("interrupted at phase 3 (chunks)", (await app.SucceedAsync("status")).Stdout);

        var retry = await app.SucceedAsync("retry");
        Assert.Contains("paused at phase 3 (chunks)", retry.Stdout);
        Assert.Equal(2, Creates(fake, Hailuo).Count);
        Assert.Equal(1 + 2 + 2, fake.RequestsOf("create").Count);
        Assert.Contains($"cost: {Money(ExpectedCost(fake))}", (await app.SucceedAsync("status")).Stdout);
    }

    [Fact]
    public async Task Without_a_token_the_replicate_backend_is_a_one_line_error()
    {
        using var app = new SampleApp();
        app.Environment["Checkpointing__Backend"] = "replicate";
        var result = await app.RunAsync("run", "--prompt", "a lamp");
        Assert.Equal(1, result.ExitCode);
        var error = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error: ReplicateOptions.ApiToken is not set", error, StringComparison.Ordinal);
        Assert.Contains("REPLICATE_API_TOKEN", error, StringComparison.Ordinal);
        Assert.Equal("", result.Stdout);
    }

    private static async Task<FakeReplicateServer> StartFakeAsync(TimeSpan? clipTime = null)
    {
        var fake = await FakeReplicateServer.StartAsync();
        var fast = new FakeModel { Starting = TimeSpan.FromMilliseconds(10), Processing = TimeSpan.FromMilliseconds(60) };
        fake.Models[Planner] = fast with
        {
            Output = FakeOutputKind.Tokens,
            Tokens = Enumerable.Range(0, (Answer.Length + 15) / 16).Select(i => Answer.Substring(i * 16, Math.Min(16, Answer.Length - i * 16))).ToList(),
            InputTokens = PlannerInputTokens,
            RequiredInputs = ["prompt", "system_prompt"],
        };
        fake.Models[Flux] = fast with { Output = FakeOutputKind.FileArray, Extension = ".png", Content = (input, _) => FluxPng(input) };
        fake.Models[Hailuo] = fast with
        {
            Output = FakeOutputKind.SingleFile, Extension = ".mp4", RequiredInputs = ["prompt", "first_frame_image"], Processing = clipTime ?? fast.Processing,
        };
        fake.Models[Kling] = fast with { Output = FakeOutputKind.SingleFile, Extension = ".mp4", RequiredInputs = ["prompt", "start_image"] };
        return fake;
    }

    private static SampleApp ReplicateApp(FakeReplicateServer fake)
    {
        var app = new SampleApp();
        app.Environment["Checkpointing__Backend"] = "replicate";
        app.Environment["REPLICATE_API_TOKEN"] = FakeReplicateServer.Token;
        app.Environment["REPLICATE_BASE_URL"] = fake.BaseUrl.ToString();
        app.Environment["Replicate__PollInterval"] = "00:00:00.050";
        app.Environment["Replicate__MaxPollInterval"] = "00:00:00.200";
        return app;
    }

    /// <summary>The image the fake FLUX paints: a real PNG whose pixels depend on the seed.</summary>
    private static byte[] FluxPng(JsonObject input) => MediaProbe.TinyPng(64, 36, (byte)(input["seed"]!.GetValue<long>() % 200));

    private static IReadOnlyList<RecordedRequest> Creates(FakeReplicateServer fake, string model) =>
        fake.RequestsOf("create").Where(r => r.Path == $"/v1/models/{model}/predictions").ToList();

    private static JsonObject Input(RecordedRequest create) => JsonNode.Parse(create.Body!)!["input"]!.AsObject();

    private static byte[] DataUri(string value, string mediaType)
    {
        var prefix = $"data:{mediaType};base64,";
        Assert.StartsWith(prefix, value, StringComparison.Ordinal);
        return Convert.FromBase64String(value[prefix.Length..]);
    }

    private static string BlobFile(SampleApp app, byte[] bytes)
    {
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        return Path.Combine(app.BlobPath, hash[..2], hash);
    }

    private static async Task<string> ExportAsync(SampleApp app, string checkpoint, string name)
    {
        var folder = app.Scratch(name);
        await app.SucceedAsync("export", checkpoint, folder);
        return folder;
    }

    /// <summary>
    /// The cost of every prediction the fake made, priced independently of the provider from the sample's
    /// appsettings.json: LLM tokens, FLUX images, and video seconds (the duration each clip model was asked for).
    /// </summary>
    private static decimal ExpectedCost(FakeReplicateServer fake)
    {
        using var settings = JsonDocument.Parse(File.ReadAllText(SampleApp.AppSettingsPath), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
        var prices = settings.RootElement.GetProperty("Replicate").GetProperty("Prices");
        decimal Price(string model, string part) =>
            prices.GetProperty(model).TryGetProperty(part, out var p) ? p.GetDecimal() : 0m;

        var total = 0m;
        foreach (var p in fake.Predictions)
        {
            Assert.Equal("succeeded", p.Status);
            total += p.Model switch
            {
                Planner => PlannerInputTokens * Price(Planner, "PerInputToken") + p.Tokens.Count * Price(Planner, "PerOutputToken"),
                Flux => p.Files.Count * Price(Flux, "PerImage"),
                Hailuo or Kling => p.Input["duration"]!.GetValue<int>() * Price(p.Model, "PerVideoSecond"),
                _ => throw new InvalidOperationException($"unexpected model {p.Model}"),
            };
        }

        Assert.True(total > 0.5m, $"the prices in appsettings.json look wrong: {total}");
        return total;
    }

    private static string Money(decimal value) => "$" + value.ToString("0.0000", CultureInfo.InvariantCulture);
}
