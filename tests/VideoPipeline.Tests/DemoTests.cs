using System.Globalization;
using System.Text.RegularExpressions;
using VideoPipeline.Media;
using VideoPipeline.Tests.Support;

namespace VideoPipeline.Tests;

/// <summary><c>demo</c> on a fresh data folder: the seed's review flow end to end, and real media on disk.</summary>
public sealed class DemoTests
{
    [Fact]
    public async Task Demo_pauses_edits_branches_twice_completes_and_prints_the_tree_and_cost()
    {
        using var app = new SampleApp();
        var demo = await app.SucceedAsync("demo");
        var output = demo.Stdout;

        Assert.DoesNotContain('\u001b', output); // no ANSI escapes when redirected
        Assert.Matches(@"paused at phase 1 \(plan\) on main: checkpoint [0-9a-f-]{36} awaits review", output);
        Assert.Matches(@"spec of checkpoint [0-9a-f-]{36} is now v2 \(v1 kept in history\): spec: 4 beats, 10 s, mood warm", output);
        Assert.Matches(@"phase 2 \(storyboard\) ran on new branch main-1 \(the checkpoint was edited\)", output);
        Assert.Matches(@"paused at phase 2 \(storyboard\) on main-1: checkpoint", output);
        Assert.Matches(@"beat_3 of checkpoint [0-9a-f-]{36} regenerated: v2", output);
        Assert.Matches(@"phase 3 \(chunks\) ran on new branch main-1-1 \(the checkpoint was edited\)", output);
        Assert.Matches(@"phase 4 \(assemble\) ran on branch main-1-1\n", output);
        Assert.Matches(@"completed: the final cut is checkpoint [0-9a-f-]{36} on main-1-1", output);

        // The tree: four checkpoints nested phase 1 > 2 > 3 > 4, two forks, three branches.
        var tree = output[output.IndexOf("7. the checkpoint tree", StringComparison.Ordinal)..];
        Assert.Matches(@"phase 1 \(plan\) on main v1, [0-9a-f]{8}, approved", tree);
        Assert.Matches(@"\s{4}`-- phase 2 \(storyboard\) on main-1 v1, [0-9a-f]{8}, approved, \$\d+\.\d{4} \[new branch main-1\]", tree);
        Assert.Matches(@"\s{8}`-- phase 3 \(chunks\) on main-1-1 v1, [0-9a-f]{8}, approved, \$\d+\.\d{4} \[new branch main-1-1\]", tree);
        Assert.Matches(@"\s{12}`-- phase 4 \(assemble\) on main-1-1 v1", tree);
        Assert.Contains("3 branches: main, main-1, main-1-1", tree);

        // The total: the spec ($0.003), 4 images and 1 regenerated image ($0.025 each), 4 clips of 2.5 s on hailuo
        // ($0.045/s). The run's cost must equal the sum of what every step reported.
        var total = Money(Regex.Match(tree, @"total cost: \$(?<v>\d+\.\d{4})").Groups["v"].Value);
        Assert.Equal(0.003m + (5 * 0.025m) + (4 * 2.5m * 0.045m), total);
        var reported = Regex.Matches(output, @"checkpoint [0-9a-f-]{36} saved: phase \d on [\w-]+, \$(?<v>\d+\.\d{4})").Sum(m => Money(m.Groups["v"].Value))
            + Money(Regex.Match(output, @"regenerated: v2, seed \d+, \$(?<v>\d+\.\d{4})").Groups["v"].Value);
        Assert.Equal(reported, total);
    }

    [Fact]
    public async Task Demo_images_and_clips_are_real_files()
    {
        // Without ffmpeg, clips and the final cut are animated PNGs (the MP4 path is tested below when ffmpeg is installed).
        using var app = new SampleApp();
        app.Environment["Media__Ffmpeg"] = "off";
        var output = (await app.SucceedAsync("demo")).Stdout;
        var storyboard = Ids.Find(output, @"checkpoint {id} saved: phase 2 on main-1,");
        var chunks = Ids.Find(output, @"checkpoint {id} saved: phase 3 on main-1-1,");
        var final = Ids.Find(output, @"the final cut is checkpoint {id}");

        var folder = app.Scratch("export");
        await app.SucceedAsync("export", storyboard, Path.Combine(folder, "storyboard"));
        await app.SucceedAsync("export", chunks[..8], Path.Combine(folder, "chunks"));
        await app.SucceedAsync("export", final, Path.Combine(folder, "final"));

        // Storyboard: four still PNGs of 256x144.
        var images = Directory.GetFiles(Path.Combine(folder, "storyboard")).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["beat_1.png", "beat_2.png", "beat_3.png", "beat_4.png"], images.Select(Path.GetFileName));
        foreach (var image in images)
        {
            var png = MediaProbe.ReadPng(await File.ReadAllBytesAsync(image, TestContext.Current.CancellationToken));
            Assert.Equal((256, 144), (png.Width, png.Height));
            Assert.Null(png.AnimationFrames);
        }

        // Clips: animated PNGs whose frames follow acTL, each starting with the beat's image.
        var clips = Directory.GetFiles(Path.Combine(folder, "chunks")).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(4, clips.Count);
        var clipFrames = 0;
        for (var i = 0; i < clips.Count; i++)
        {
            var bytes = await File.ReadAllBytesAsync(clips[i], TestContext.Current.CancellationToken);
            Assert.EndsWith($"chunk_{i + 1}.apng", clips[i], StringComparison.Ordinal);
            var png = MediaProbe.ReadPng(bytes);
            Assert.Equal((256, 144), (png.Width, png.Height));
            Assert.Equal(10, png.AnimationFrames); // 2.5 s at 4 frames per second
            Assert.Equal(png.AnimationFrames, png.FrameControls);
            Assert.Contains("fdAT", png.Chunks);
            clipFrames += png.AnimationFrames!.Value;

            var frames = MediaProbe.DecodeFrames(bytes);
            var beat = MediaProbe.Decode(await File.ReadAllBytesAsync(images[i], TestContext.Current.CancellationToken));
            Assert.Equal(beat, frames[0]);
            Assert.NotEqual(beat.Rgba, frames[^1].Rgba); // the camera moved
        }

        var finals = Directory.GetFiles(Path.Combine(folder, "final"));
        var finalBytes = await File.ReadAllBytesAsync(Assert.Single(finals), TestContext.Current.CancellationToken);
        Assert.EndsWith("final.apng", finals[0], StringComparison.Ordinal);
        Assert.Equal(clipFrames, MediaProbe.ReadPng(finalBytes).AnimationFrames); // every frame of every clip, in order

        // Every blob on disk is one of these real files, stored once by content hash.
        var blobs = Directory.GetFiles(app.BlobPath, "*", SearchOption.AllDirectories).Where(f => !f.Contains(".tmp", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(blobs);
        foreach (var blob in blobs)
        {
            var bytes = await File.ReadAllBytesAsync(blob, TestContext.Current.CancellationToken);
            Assert.True(MediaProbe.IsPng(bytes), $"{blob} is not a PNG");
            Assert.Equal(Path.GetFileName(blob), Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)));
        }
    }

    [Fact]
    public async Task With_ffmpeg_on_PATH_clips_and_the_final_cut_are_MP4()
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        if (!path.Any(dir => File.Exists(Path.Combine(dir, OperatingSystem.IsWindows() ? "ffmpeg.exe" : "ffmpeg"))))
        {
            Assert.Skip("ffmpeg is not on PATH; the animated-PNG path is tested instead.");
        }

        using var app = new SampleApp();
        var output = (await app.SucceedAsync("run", "--auto-continue", "--beats", "2", "--duration", "4")).Stdout;
        var chunks = Ids.Find(output, @"checkpoint {id} saved: phase 3 on main,");
        var final = Ids.Find(output, @"the final cut is checkpoint {id}");
        var folder = app.Scratch("export");
        await app.SucceedAsync("export", chunks, folder);
        await app.SucceedAsync("export", final, folder);

        Assert.Equal(["chunk_1.mp4", "chunk_2.mp4", "final.mp4"], Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (var file in Directory.GetFiles(folder))
        {
            Assert.True(MediaProbe.IsMp4(await File.ReadAllBytesAsync(file, TestContext.Current.CancellationToken)), $"{file} has no ftyp box");
        }

        Assert.Contains("video/mp4", (await app.SucceedAsync("show", final)).Stdout);
    }

    private static decimal Money(string text) => decimal.Parse(text, CultureInfo.InvariantCulture);
}
