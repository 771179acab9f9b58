using VideoPipeline.Tests.Support;

namespace VideoPipeline.Tests;

/// <summary>A run paused at phase 2 (phase 1 approved), shared by the bad-argument tests, with its state captured once.</summary>
public sealed class PausedRunFixture : IAsyncLifetime
{
    public SampleApp App { get; } = new();

    public string Plan { get; private set; } = "";

    public string Storyboard { get; private set; } = "";

    public string GoodPng { get; private set; } = "";

    public string HtmlPng { get; private set; } = "";

    /// <summary>What the store, the blobs and the studio held before any bad command.</summary>
    public State Before { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var run = await App.SucceedAsync("run", "--beats", "3", "--duration", "6");
        Plan = Ids.PausedCheckpoint(run.Stdout);
        var cont = await App.SucceedAsync("continue", Plan);
        Storyboard = Ids.PausedCheckpoint(cont.Stdout);
        Directory.CreateDirectory(App.Scratch(""));
        GoodPng = App.Scratch("good.png");
        await File.WriteAllBytesAsync(GoodPng, MediaProbe.TinyPng(16, 9, 40));
        HtmlPng = App.Scratch("page.png");
        await File.WriteAllTextAsync(HtmlPng, "<!doctype html><html><body><img src=x></body></html>");
        Before = await State.CaptureAsync(this);
    }

    public ValueTask DisposeAsync()
    {
        App.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Everything a bad command could have changed: tree, checkpoints, both checkpoints' artifact history, blob and job files.</summary>
    public sealed record State(string Tree, string Checkpoints, string PlanHistory, string StoryboardHistory, string Status, string Files)
    {
        public static async Task<State> CaptureAsync(PausedRunFixture f) => new(
            (await f.App.SucceedAsync("tree")).Stdout,
            (await f.App.SucceedAsync("checkpoints")).Stdout,
            (await f.App.SucceedAsync("history", f.Plan)).Stdout,
            (await f.App.SucceedAsync("history", f.Storyboard)).Stdout,
            (await f.App.SucceedAsync("status")).Stdout,
            string.Join('\n', Directory.GetFiles(f.App.DataPath, "*", SearchOption.AllDirectories)
                .Where(p => !p.EndsWith("-wal", StringComparison.Ordinal) && !p.EndsWith("-shm", StringComparison.Ordinal) && !p.EndsWith(".db", StringComparison.Ordinal))
                .Select(p => Path.GetRelativePath(f.App.DataPath, p)).Order(StringComparer.Ordinal)));
    }
}

/// <summary>Bad arguments print one line <c>error: …</c> on stderr, exit non-zero, and change nothing.</summary>
public sealed class BadArgumentTests(PausedRunFixture fixture) : IClassFixture<PausedRunFixture>
{
    public static TheoryData<string, string[], string> Cases => new()
    {
        { "unknown checkpoint", ["show", "00000000-0000-4000-8000-000000000000"], "Checkpoint '00000000-0000-4000-8000-000000000000' does not exist" },
        { "unknown checkpoint prefix", ["continue", "ffffffff"], "No checkpoint id starts with 'ffffffff'" },
        { "not an id", ["show", "lamp"], "'lamp' is not a checkpoint id" },
        { "unknown run", ["tree", "00000000-0000-4000-8000-000000000001"], "Run '00000000-0000-4000-8000-000000000001' does not exist" },
        { "beat out of range", ["regenerate-beat", "{storyboard}", "4"], "Unit 4 does not exist at checkpoint" },
        { "beat zero", ["regenerate-beat", "{storyboard}", "0", "--prompt", "x"], "Unit 0 does not exist at checkpoint" },
        { "upload to a beat out of range", ["upload-image", "{storyboard}", "9", "{good}"], "Unit 9 does not exist at checkpoint" },
        { "HTML named .png", ["upload-image", "{storyboard}", "1", "{html}"], "the uploaded content is of an unrecognised type (detected from its bytes, not its name)" },
        { "upload at phase 1", ["upload-image", "{plan}", "1", "{good}"], "Phase 1 does not allow 'ReplaceContent' edits of 'beat_image'" },
        { "missing upload file", ["upload-image", "{storyboard}", "1", "{missing}"], "Could not find file" },
        { "malformed JSON patch", ["edit-spec", "{plan}", "{\"style\": {\"mood\": "], "The merge patch is not valid JSON" },
        { "patch that is not an object", ["edit-spec", "{plan}", "[1, 2]"], "The merge patch must be a JSON object" },
        { "no beats", ["edit-spec", "{plan}", "{\"beats\": []}"], "the spec needs at least one beat" },
        { "durations do not add up", ["edit-spec", "{plan}", "{\"total_duration\": 7}"], "the beat durations add up to 6 s, not total_duration 7 s" },
        { "duplicate beat ids and a negative duration", ["edit-spec", "{plan}", "{\"total_duration\": 6, \"beats\": [{\"id\": \"a\", \"duration\": 7, \"prompt\": \"p\", \"shot_type\": \"wide\"}, {\"id\": \"a\", \"duration\": -1, \"prompt\": \"q\", \"shot_type\": \"wide\"}]}"], "beat id 'a' is used by beats[1] and beats[2]; beat ids must be unique; beats[2].duration must be positive, not -1" },
        { "wrong type", ["edit-spec", "{plan}", "{\"beats\": \"three\"}"], "beats must be an array, not the string \"three\"" },
        { "spec edit at phase 2", ["edit-spec", "{storyboard}", "{\"style\": {\"mood\": \"warm\"}}"], "Phase 2 does not allow 'PatchJson' edits of 'spec'" },
        { "chunk regeneration at phase 2", ["regenerate-chunk", "{storyboard}", "1", "--model", "kling"], "'regenerate-chunk' works on phase 3 (chunks) checkpoints" },
        { "beat that is not a number", ["regenerate-beat", "{storyboard}", "three"], "three" },
        { "unknown artifact key", ["history", "{plan}", "beat_1"], "holds no artifact 'beat_1'; it holds spec." },
        { "unknown command", ["rewind"], "rewind" },
        { "duration that is not a number", ["run", "--duration", "NaN"], "--duration is NaN; give between 1 and 120 seconds." },
        { "infinite duration", ["run", "--duration", "Infinity"], "--duration is" },
        { "upload of a folder", ["upload-image", "{storyboard}", "1", "{folder}"], "is a folder; upload-image takes an image file (PNG, JPEG or WebP)." },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Prints_one_error_line_exits_non_zero_and_changes_nothing(string name, string[] args, string expected)
    {
        var resolved = args.Select(a => a
            .Replace("{plan}", fixture.Plan, StringComparison.Ordinal)
            .Replace("{storyboard}", fixture.Storyboard, StringComparison.Ordinal)
            .Replace("{good}", fixture.GoodPng, StringComparison.Ordinal)
            .Replace("{html}", fixture.HtmlPng, StringComparison.Ordinal)
            .Replace("{missing}", fixture.App.Scratch("missing.png"), StringComparison.Ordinal)
            .Replace("{folder}", fixture.App.Scratch(""), StringComparison.Ordinal)).ToArray();

        var result = await fixture.App.RunAsync(resolved);

        Assert.True(result.ExitCode != 0, $"{name}: {result}");
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", result.Stderr.Replace(line, "", StringComparison.Ordinal), StringComparison.Ordinal); // no stack trace
        Assert.Equal("", result.Stdout);

        var after = await PausedRunFixture.State.CaptureAsync(fixture);
        Assert.Equal(fixture.Before, after);
    }

    [Fact]
    public async Task The_state_capture_sees_a_real_edit()
    {
        // The same capture as above, on its own run, notices a valid edit: the comparisons above can fail.
        using var app = new SampleApp();
        var run = await app.SucceedAsync("run", "--beats", "2", "--duration", "4");
        var plan = Ids.PausedCheckpoint(run.Stdout);
        var before = (await app.SucceedAsync("history", plan)).Stdout;
        await app.SucceedAsync("edit-spec", plan, """{"audio":{"music_style":"jazz"}}""");
        Assert.NotEqual(before, (await app.SucceedAsync("history", plan)).Stdout);
    }
}
