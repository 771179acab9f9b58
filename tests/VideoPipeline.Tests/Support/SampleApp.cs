using System.Diagnostics;
using System.Text;

namespace VideoPipeline.Tests.Support;

/// <summary>The output of one run of the sample.</summary>
public sealed record CliResult(string[] Args, int ExitCode, string Stdout, string Stderr)
{
    public IReadOnlyList<string> ErrorLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public override string ToString() =>
        $"videopipeline {string.Join(' ', Args)} -> exit {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>
/// Runs the sample's build output as a separate process (<c>dotnet VideoPipeline.dll --data {folder} …</c>) against
/// one data folder, with a timeout, and captures stdout, stderr and the exit code.
/// </summary>
public sealed class SampleApp : IDisposable
{
    private static readonly Lazy<string> Dll = new(LocateDll);

    private readonly bool _ownsData = true;

    public SampleApp()
    {
        DataPath = Path.Combine(Path.GetTempPath(), "videopipeline-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(DataPath);
    }

    /// <summary>Commands on another instance's data folder (e.g. as another user); it is not deleted on dispose.</summary>
    public SampleApp(string dataPath)
    {
        DataPath = dataPath;
        _ownsData = false;
    }

    /// <summary>The data folder every command of this instance uses.</summary>
    public string DataPath { get; }

    public string BlobPath => Path.Combine(DataPath, "blobs");

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>Whether commands get <c>--data {DataPath}</c>; when false, the data folder comes from configuration.</summary>
    public bool PassDataOption { get; init; } = true;

    /// <summary>
    /// A user id to run the processes as (through <c>setpriv</c>; the tests must run as root), e.g. 65534 (nobody), so
    /// that folders the tests made are read-only to the sample. Null: the tests' own user.
    /// </summary>
    public int? RunAsUser { get; init; }

    /// <summary>Extra environment variables for the process.</summary>
    public Dictionary<string, string> Environment { get; } = new(StringComparer.Ordinal);

    /// <summary>A path for a scratch file or folder under the data folder's parent.</summary>
    public string Scratch(string name) => Path.Combine(DataPath + "-scratch", name);

    public async Task<CliResult> RunAsync(params string[] args)
    {
        using var process = Process.Start(StartInfo(args)) ?? throw new InvalidOperationException("Could not start dotnet.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await WaitAsync(process, args);
        return new CliResult(args, process.ExitCode, (await stdout).ReplaceLineEndings("\n"), (await stderr).ReplaceLineEndings("\n"));
    }

    /// <summary>
    /// Runs a command and kills it (as a crash would) <paramref name="delay"/> after it prints a line matching
    /// <paramref name="killWhen"/>.
    /// </summary>
    public Task<CliResult> RunAndKillAsync(Func<string, bool> killWhen, TimeSpan delay, params string[] args) =>
        RunAndInterruptAsync(killWhen, null, delay, p => p.Kill(entireProcessTree: true), args);

    /// <summary>
    /// Runs a command and kills it <paramref name="delay"/> after it prints a line matching <paramref name="killWhen"/>
    /// and <paramref name="condition"/> (polled, e.g. what a fake server has received) holds.
    /// </summary>
    public Task<CliResult> RunAndKillAsync(Func<string, bool> killWhen, Func<bool> condition, TimeSpan delay, params string[] args) =>
        RunAndInterruptAsync(killWhen, condition, delay, p => p.Kill(entireProcessTree: true), args);

    /// <summary>Runs a command and sends it SIGINT (as Ctrl+C does) <paramref name="delay"/> after it prints a matching line.</summary>
    public Task<CliResult> RunAndSignalAsync(Func<string, bool> when, TimeSpan delay, params string[] args) =>
        RunAndInterruptAsync(when, null, delay, p => Assert.Equal(0, NativeMethods.kill(p.Id, 2)), args);

    /// <summary>Runs a command and sends it SIGINT <paramref name="delay"/> after a matching line and <paramref name="condition"/>.</summary>
    public Task<CliResult> RunAndSignalAsync(Func<string, bool> when, Func<bool> condition, TimeSpan delay, params string[] args) =>
        RunAndInterruptAsync(when, condition, delay, p => Assert.Equal(0, NativeMethods.kill(p.Id, 2)), args);

    private async Task<CliResult> RunAndInterruptAsync(Func<string, bool> killWhen, Func<bool>? condition, TimeSpan delay, Action<Process> interrupt, string[] args)
    {
        using var process = new Process { StartInfo = StartInfo(args) };
        var stdout = new StringBuilder();
        var matched = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (stdout)
            {
                stdout.Append(e.Data).Append('\n');
            }

            if (killWhen(e.Data))
            {
                matched.TrySetResult();
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        var stderr = process.StandardError.ReadToEndAsync();
        var exited = process.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(Timeout);
        await Task.WhenAny(matched.Task, exited, Task.Delay(Timeout, timeout.Token));
        Assert.True(matched.Task.IsCompleted, $"the process did not print the awaited line:\n{stdout}");
        while (condition is not null && !condition() && !process.HasExited && !timeout.IsCancellationRequested)
        {
            await Task.Delay(20);
        }

        Assert.True(condition is null || condition(), $"the condition did not hold while the process ran:\n{stdout}");
        await Task.Delay(delay);
        interrupt(process);
        await WaitAsync(process, args);
        await stderr;
        lock (stdout)
        {
            return new CliResult(args, process.ExitCode, stdout.ToString(), stderr.Result.ReplaceLineEndings("\n"));
        }
    }

    private ProcessStartInfo StartInfo(string[] args)
    {
        string[] all = PassDataOption ? ["--data", DataPath, .. args] : args;
        var dotnet = System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        // A child inherits the signal mask of the thread that forks it (some of the test host's threads block every
        // signal), and the dispositions of its parent: a test run started in the background of a script ignores SIGINT,
        // and a sample started from it would too. Perl restores SIGINT and SIGTERM, clears the mask and execs the
        // command in place (same pid), as an interactive shell starts it.
        var unblock = RunAsUser is null && File.Exists(Perl);
        var start = new ProcessStartInfo(RunAsUser is not null ? "setpriv" : unblock ? Perl : dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = Directory.CreateDirectory(DataPath + "-scratch").FullName,
        };
        if (RunAsUser is { } user)
        {
            foreach (var a in (string[])[$"--reuid={user}", $"--regid={user}", "--clear-groups", "--", dotnet])
            {
                start.ArgumentList.Add(a);
            }

            start.Environment["HOME"] = Path.GetTempPath();
        }
        else if (unblock)
        {
            foreach (var a in (string[])["-MPOSIX", "-e", "$SIG{INT} = $SIG{TERM} = 'DEFAULT'; sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die; exec @ARGV or die", "--", dotnet])
            {
                start.ArgumentList.Add(a);
            }
        }

        start.ArgumentList.Add(Dll.Value);
        foreach (var a in all)
        {
            start.ArgumentList.Add(a);
        }

        // Only what the test sets: no settings inherited from the developer's shell.
        foreach (var key in start.Environment.Keys.Where(k =>
                     k.StartsWith("Checkpointing__", StringComparison.OrdinalIgnoreCase) || k.StartsWith("VideoPipeline__", StringComparison.OrdinalIgnoreCase)
                     || k.StartsWith("Studio__", StringComparison.OrdinalIgnoreCase) || k.StartsWith("Media__", StringComparison.OrdinalIgnoreCase)
                     || k.StartsWith("Logging__", StringComparison.OrdinalIgnoreCase)
                     || k.StartsWith("Replicate__", StringComparison.OrdinalIgnoreCase) || k.StartsWith("REPLICATE_", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(key);
        }

        start.Environment["NO_COLOR"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["Studio__LatencyMilliseconds"] = "0";
        foreach (var (key, value) in Environment)
        {
            start.Environment[key] = value;
        }

        return start;
    }

    private async Task WaitAsync(Process process, string[] args)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"videopipeline {string.Join(' ', args)} did not finish within {Timeout}.");
        }
    }

    /// <summary>Starts a command (e.g. a <c>worker</c>) and returns at once; the caller waits for it, kills it or signals it.</summary>
    private const string Perl = "/usr/bin/perl";

    public RunningCommand Start(params string[] args)
    {
        var process = new Process { StartInfo = StartInfo(args) };
        var running = new RunningCommand(process, args, Timeout);
        process.Start();
        running.BeginReading();
        return running;
    }

    /// <summary>Runs a command and fails the test with its output unless it exits 0 with nothing on stderr.</summary>
    public async Task<CliResult> SucceedAsync(params string[] args)
    {
        var result = await RunAsync(args);
        Assert.True(result.ExitCode == 0 && result.Stderr.Length == 0, result.ToString());
        return result;
    }

    public void Dispose()
    {
        if (!_ownsData)
        {
            return;
        }

        foreach (var folder in new[] { DataPath, DataPath + "-scratch" })
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
        }
    }

    /// <summary>The appsettings.json the sample's processes read (next to its build output).</summary>
    public static string AppSettingsPath => Path.Combine(Path.GetDirectoryName(Dll.Value)!, "appsettings.json");

    /// <summary>The sample's own build output, next to its deps.json, runtimeconfig.json and appsettings.json.</summary>
    private static string LocateDll()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        var segments = dir.FullName.Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        var bin = Array.LastIndexOf(segments, "bin");
        var configuration = bin >= 0 && bin + 1 < segments.Length ? segments[bin + 1] : "Debug";
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Checkpointing.sln")))
        {
            dir = dir.Parent;
        }

        if (dir is null)
        {
            throw new InvalidOperationException($"Checkpointing.sln not found above {AppContext.BaseDirectory}.");
        }

        var dll = Path.Combine(dir.FullName, "samples", "VideoPipeline", "bin", configuration, "net10.0", "VideoPipeline.dll");
        return File.Exists(dll) ? dll : throw new InvalidOperationException($"{dll} does not exist; build samples/VideoPipeline ({configuration}) first.");
    }
}

internal static class NativeMethods
{
    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    internal static extern int kill(int pid, int signal);
}

/// <summary>A command started with <see cref="SampleApp.Start"/>.</summary>
public sealed class RunningCommand(Process process, string[] args, TimeSpan timeout) : IDisposable
{
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    public int Id => process.Id;

    public bool HasExited => process.HasExited;

    public string Stdout
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    internal void BeginReading()
    {
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_stdout)
                {
                    _stdout.Append(e.Data).Append('\n');
                }
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_stderr)
                {
                    _stderr.Append(e.Data).Append('\n');
                }
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>Waits until the output holds a line matching <paramref name="predicate"/>.</summary>
    public async Task WaitForLineAsync(Func<string, bool> predicate)
    {
        var until = DateTime.UtcNow + timeout;
        while (!Stdout.Split('\n').Any(predicate))
        {
            Assert.True(DateTime.UtcNow < until && !process.HasExited, $"videopipeline {string.Join(' ', args)} did not print the awaited line:\n{Stdout}");
            await Task.Delay(20);
        }
    }

    /// <summary>Kills the process as a crash would (SIGKILL).</summary>
    public void Kill() => process.Kill(entireProcessTree: true);

    /// <summary>Sends SIGINT, as Ctrl+C does.</summary>
    public void Interrupt() => Assert.Equal(0, NativeMethods.kill(process.Id, 2));

    /// <summary>Waits for the process to end and returns what it printed.</summary>
    public async Task<CliResult> WaitAsync()
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"videopipeline {string.Join(' ', args)} did not finish within {timeout}:\n{Stdout}");
        }

        process.WaitForExit();
        lock (_stderr)
        {
            return new CliResult(args, process.ExitCode, Stdout, _stderr.ToString());
        }
    }

    public void Dispose()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        process.Dispose();
    }
}
