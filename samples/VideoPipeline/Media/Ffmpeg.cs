using System.Globalization;
using CliWrap;
using CliWrap.Buffered;

namespace VideoPipeline.Media;

/// <summary>Runs ffmpeg (through CliWrap) when it is installed; finds it on PATH unless a path is configured.</summary>
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

        var name = OperatingSystem.IsWindows() ? "ffmpeg.exe" : "ffmpeg";
        return (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .Where(File.Exists)
            .Select(path => new Ffmpeg(path))
            .FirstOrDefault();
    }

    /// <summary>Encodes PNG frames, piped to ffmpeg's standard input, as an MP4 at <paramref name="framesPerSecond"/>.</summary>
    public async Task EncodeFramesAsync(IReadOnlyList<byte[]> pngFrames, int framesPerSecond, string output, CancellationToken ct)
    {
        var frames = PipeSource.Create(async (stdin, token) =>
        {
            foreach (var frame in pngFrames)
            {
                await stdin.WriteAsync(frame, token);
            }
        });
        await RunAsync(
            ["-f", "image2pipe", "-c:v", "png", "-framerate", framesPerSecond.ToString(CultureInfo.InvariantCulture), "-i", "-",
             "-c:v", "mpeg4", "-q:v", "3", "-pix_fmt", "yuv420p", "-r", "24", "-movflags", "+faststart", output],
            frames, ct);
    }

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
        return RunAsync(args, PipeSource.Null, ct);
    }

    private async Task RunAsync(IReadOnlyList<string> args, PipeSource input, CancellationToken ct)
    {
        // CliWrap kills the process tree when ct is cancelled.
        var result = await CliWrap.Cli.Wrap(_path)
            .WithArguments(["-hide_banner", "-loglevel", "error", "-y", .. args])
            .WithStandardInputPipe(input)
            .WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync(ct);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"ffmpeg exited with code {result.ExitCode}: {result.StandardError.Trim().ReplaceLineEndings(" ")}");
        }
    }
}
