using System.Diagnostics;
using System.Text;

namespace Checkpointing.AspNetCore.Tests.Support;

/// <summary>The video pipeline sample's build output, run as separate processes over one data folder.</summary>
public sealed class Sample : IAsyncDisposable
{
    private static readonly Lazy<string> Dll = new(Locate);
    private readonly List<Process> _servers = [];

    public string DataPath { get; } = Path.Combine(Path.GetTempPath(), "checkpointing-aspnet-sample", Guid.NewGuid().ToString("N"));

    /// <summary>Runs one command to its end and returns its stdout; fails on a non-zero exit.</summary>
    public async Task<string> RunAsync(params string[] args)
    {
        using var process = Process.Start(StartInfo(args))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"videopipeline {string.Join(' ', args)} exited {process.ExitCode}: {await stderr}");
        return await stdout;
    }

    /// <summary>Starts <c>serve --urls http://127.0.0.1:0</c> and returns the review page's address it prints.</summary>
    public async Task<Uri> ServeAsync()
    {
        var process = Process.Start(StartInfo(["serve", "--urls", "http://127.0.0.1:0"]))!;
        _servers.Add(process);
        var errors = new StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (errors) { errors.AppendLine(e.Data); } };
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith("review page: ", StringComparison.Ordinal))
            {
                _ = DrainAsync(process.StandardOutput);
                return new Uri(line["review page: ".Length..]);
            }
        }

        lock (errors)
        {
            throw new InvalidOperationException($"serve ended without printing its address: {errors}");
        }
    }

    private static async Task DrainAsync(StreamReader reader)
    {
        while (await reader.ReadLineAsync() is not null)
        {
        }
    }

    private ProcessStartInfo StartInfo(IEnumerable<string> args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Dll.Value);
        info.ArgumentList.Add("--data");
        info.ArgumentList.Add(DataPath);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["NO_COLOR"] = "1";
        info.Environment["Studio__LatencyMilliseconds"] = "150";
        return info;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers)
        {
            if (!server.HasExited)
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync();
            }

            server.Dispose();
        }

        try
        {
            Directory.Delete(DataPath, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string Locate()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        var segments = dir.FullName.Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        var bin = Array.LastIndexOf(segments, "bin");
        var configuration = bin >= 0 && bin + 1 < segments.Length ? segments[bin + 1] : "Debug";
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Checkpointing.sln")))
        {
            dir = dir.Parent;
        }

        var dll = Path.Combine(dir?.FullName ?? ".", "samples", "VideoPipeline", "bin", configuration, "net10.0", "VideoPipeline.dll");
        return File.Exists(dll) ? dll : throw new InvalidOperationException($"{dll} does not exist; build samples/VideoPipeline ({configuration}) first.");
    }
}
