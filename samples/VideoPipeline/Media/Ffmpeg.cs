using System.Diagnostics;

namespace VideoPipeline.Media;

/// <summary>Runs ffmpeg when it is installed; finds it on PATH unless a path is configured.</summary>
public sealed class Ffmpeg
{
    private readonly string _path;

    private Ffmpeg(string path) => _path = path;

    /// <summary>
    /// Finds ffmpeg: <paramref name="setting"/> is <c>auto</c> (search PATH), <c>off</c> (never use it) or a path to
    /// the executable. Returns null when it is off or not found.
    /// </summary>
    public static Ffmpeg? Locate(string? setting)
    {
        if (string.Equals(setting, "off", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        if (!string.IsNullOrWhiteSpace(setting) && !string.Equals(setting, "auto", StringComparison.OrdinalIgnoreCase))
        {
            return File.Exists(setting) ? new Ffmpeg(setting) : throw new FileNotFoundException($"ffmpeg was configured at '{setting}' but that file does not exist.");
        }

        var names = OperatingSystem.IsWindows() ? new[] { "ffmpeg.exe" } : ["ffmpeg"];
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var name in names)
            {
                var candidate = Path.Combine(dir, name);
                if (File.Exists(candidate))
                {
                    return new Ffmpeg(candidate);
                }
            }
        }

        return null;
    }

    /// <summary>Encodes numbered PNG frames (<c>frame_0001.png</c>, …) in <paramref name="folder"/> as an MP4 at <paramref name="framesPerSecond"/>.</summary>
    public Task EncodeFramesAsync(string folder, int framesPerSecond, string output, CancellationToken ct) =>
        RunAsync(
            ["-framerate", framesPerSecond.ToString(System.Globalization.CultureInfo.InvariantCulture), "-i", Path.Combine(folder, "frame_%04d.png"),
             "-c:v", "mpeg4", "-q:v", "3", "-pix_fmt", "yuv420p", "-r", "24", "-movflags", "+faststart", output],
            ct);

    /// <summary>Converts the first frame of any image ffmpeg reads (JPEG, WebP, …) to PNG.</summary>
    public Task ConvertToPngAsync(string input, string output, CancellationToken ct) =>
        RunAsync(["-i", input, "-frames:v", "1", "-f", "image2", "-c:v", "png", output], ct);

    /// <summary>Joins clips (MP4 or APNG, all the same size) one after another into an MP4.</summary>
    public Task ConcatAsync(IReadOnlyList<string> clips, string output, CancellationToken ct)
    {
        var args = new List<string>();
        foreach (var clip in clips)
        {
            args.AddRange(["-i", clip]);
        }

        var inputs = string.Concat(Enumerable.Range(0, clips.Count).Select(i => $"[{i}:v]"));
        args.AddRange(["-filter_complex", $"{inputs}concat=n={clips.Count}:v=1:a=0,format=yuv420p[v]", "-map", "[v]",
            "-c:v", "mpeg4", "-q:v", "3", "-r", "24", "-movflags", "+faststart", output]);
        return RunAsync(args, ct);
    }

    private async Task RunAsync(IReadOnlyList<string> args, CancellationToken ct)
    {
        var start = new ProcessStartInfo(_path)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var a in (string[])["-hide_banner", "-loglevel", "error", "-nostdin", "-y", .. args])
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start ffmpeg at '{_path}'.");
        var stderr = process.StandardError.ReadToEndAsync(ct);
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        try
        {
            await process.WaitForExitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        await stdout;
        var errors = (await stderr).Trim();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"ffmpeg exited with code {process.ExitCode}: {errors.ReplaceLineEndings(" ")}");
        }
    }
}
