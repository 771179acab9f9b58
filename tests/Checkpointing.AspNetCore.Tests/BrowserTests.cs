using System.Text.RegularExpressions;
using Checkpointing.AspNetCore.Tests.Support;
using Microsoft.Playwright;

namespace Checkpointing.AspNetCore.Tests;

/// <summary>
/// The review page of the sample's <c>serve</c> (a separate process) in headless Chromium: Debian's <c>chromium</c>,
/// driven by Playwright through <c>ExecutablePath</c> (Playwright's own browser download is never used).
/// </summary>
public sealed partial class BrowserTests
{
    private static readonly string Shots = Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots");

    /// <summary>The browser: <c>CHECKPOINTING_CHROMIUM</c>, else Debian's. Missing, the test fails and says how to get one.</summary>
    private static string Chromium()
    {
        var candidates = new[] { Environment.GetEnvironmentVariable("CHECKPOINTING_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser" };
        return candidates.FirstOrDefault(c => !string.IsNullOrWhiteSpace(c) && File.Exists(c))
            ?? throw new InvalidOperationException(
                "No Chromium found (looked at CHECKPOINTING_CHROMIUM, /usr/bin/chromium and /usr/bin/chromium-browser). Run ./test.sh, which installs " +
                "Debian's chromium through tests/infra/chromium.sh, or run 'apt-get install chromium', or set CHECKPOINTING_CHROMIUM to a Chromium binary.");
    }

    [Fact]
    public async Task A_reviewer_sees_the_tree_regenerates_a_beat_continues_and_sees_the_new_branch()
    {
        var chromium = Chromium();
        await using var sample = new Sample();
        await sample.RunAsync("run", "--prompt", "a ceramic desk lamp on an oak table", "--beats", "3", "--duration", "7.5");
        var review = await sample.ServeAsync();

        using var playwright = await Playwright.CreateAsync();
        var profile = Path.Combine(Path.GetTempPath(), "checkpointing-chromium-" + Guid.NewGuid().ToString("N"));
        await using var browser = await playwright.Chromium.LaunchPersistentContextAsync(profile, new BrowserTypeLaunchPersistentContextOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            ViewportSize = new ViewportSize { Width = 1440, Height = 1000 },
        });
        var page = browser.Pages.Count > 0 ? browser.Pages[0] : await browser.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, e) => errors.Add(e);
        page.Console += (_, m) =>
        {
            if (m.Type == "error")
            {
                errors.Add(m.Text);
            }
        };
        var assertions = Assertions.Expect(page);

        // 1. The run is listed and opened; its tree shows the plan on main.
        await page.GotoAsync(review.ToString());
        await Assertions.Expect(page.Locator(".run-item")).ToHaveCountAsync(1);
        var nodes = page.Locator(".tree .node");
        await Assertions.Expect(nodes).ToHaveCountAsync(1);
        await Assertions.Expect(nodes.First).ToContainTextAsync("Phase 1");
        await Assertions.Expect(page.Locator("#checkpoint-title")).ToHaveTextAsync(new Regex("^Phase 1 · main"));
        await Assertions.Expect(page.Locator("[data-artifact='spec/spec'] pre")).ToContainTextAsync("\"beats\"");
        await Assertions.Expect(page.Locator("#live")).ToHaveClassAsync(new Regex("\\bon\\b"));
        await Shot(page, "1-plan");

        // 2. Continue from the keyboard: the storyboard runs on main; the live progress reports it.
        await page.Locator("#continue").FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(nodes).ToHaveCountAsync(2, new() { Timeout = 60_000 });
        await Assertions.Expect(page.Locator("#checkpoint-title")).ToHaveTextAsync(new Regex("^Phase 2 · main"), new() { Timeout = 30_000 });
        await Assertions.Expect(page.Locator("#progress-label")).ToContainTextAsync(new Regex("units done|ready for review|saved"));
        await Assertions.Expect(page.Locator(".card img")).ToHaveCountAsync(3);

        // 3. Regenerate beat 2 with a prompt override (the dialog is driven by the keyboard too).
        var beat = page.Locator("[data-artifact='beat_image/beat_2']");
        await beat.Locator("[data-action='regenerate']").FocusAsync();
        await page.Keyboard.PressAsync("Space");
        await Assertions.Expect(page.Locator("#dialog")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#regen-prompt")).ToBeFocusedAsync();
        await page.Locator("#regen-prompt").FillAsync("a brass desk lamp at dusk, warm light");
        await page.Locator("#regen-go").ClickAsync();
        await Assertions.Expect(page.Locator("#dialog")).ToBeHiddenAsync(new() { Timeout = 60_000 });
        await Assertions.Expect(beat.Locator(".name .pill")).ToHaveTextAsync("v2");
        await Assertions.Expect(beat.Locator(".prompt")).ToContainTextAsync("a brass desk lamp at dusk, warm light");
        await Assertions.Expect(page.Locator("#continue")).ToHaveTextAsync("Continue on a new branch");
        await Shot(page, "2-regenerated");

        // 4. Continue the edited storyboard: the chunks run on a new branch, main-1, which appears in the tree.
        await page.Locator("#continue").ClickAsync();
        await Assertions.Expect(page.Locator(".tree .node[data-branch='main-1']")).ToHaveCountAsync(1, new() { Timeout = 90_000 });
        await Assertions.Expect(page.Locator("#checkpoint-title")).ToHaveTextAsync(new Regex("^Phase 3 · main-1"));
        await Assertions.Expect(page.Locator("#branches")).ToContainTextAsync("main-1");
        // Clips are MP4 with ffmpeg on the machine, else animated PNG: either way a preview per chunk.
        await Assertions.Expect(page.Locator("[data-artifact^='chunk/'] .media > :is(video, img)")).ToHaveCountAsync(3);
        await Assertions.Expect(page.Locator("#run-cost")).Not.ToHaveTextAsync("$0.000");

        // 5. The history of beat 2 compares its two versions side by side.
        await page.Locator(".tree .node[data-branch='main']").Nth(1).ClickAsync();
        await Assertions.Expect(page.Locator("#checkpoint-title")).ToHaveTextAsync(new Regex("^Phase 2 · main"));
        await page.Locator("[data-artifact='beat_image/beat_2'] button", new() { HasText = "History" }).ClickAsync();
        await Assertions.Expect(page.Locator("#compare-out figure img")).ToHaveCountAsync(2);
        await Shot(page, "3-compare");
        await page.Keyboard.PressAsync("Escape");
        await page.Locator(".tree .node[data-branch='main-1']").ClickAsync();
        await Assertions.Expect(page.Locator("#checkpoint-title")).ToHaveTextAsync(new Regex("^Phase 3 · main-1"));
        var final = await Shot(page, "4-new-branch");

        Assert.Empty(errors);
        if (Environment.GetEnvironmentVariable("CHECKPOINTING_README_SCREENSHOT") is { Length: > 0 } readme)
        {
            File.Copy(final, readme, overwrite: true);
        }

        _ = assertions;
        try
        {
            Directory.Delete(profile, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static async Task<string> Shot(IPage page, string name)
    {
        Directory.CreateDirectory(Shots);
        var path = Path.Combine(Shots, $"review-{name}.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        TestContext.Current.TestOutputHelper?.WriteLine($"screenshot: {path}");
        Console.WriteLine($"screenshot: {path}");
        return path;
    }
}
