using System.Diagnostics;

namespace Checkpointing.S3.Tests;

/// <summary>
/// An S3 emulator of one test's own (<c>tests/infra/s3/server.js</c>), that the test may stop and start again on the
/// same port with the same data (an outage) without disturbing the emulator the other tests share.
/// </summary>
internal sealed class PrivateS3Server : IAsyncDisposable
{
    private readonly string _root;
    private readonly string _data;
    private Process? _process;

    private PrivateS3Server(string root)
    {
        _root = root;
        _data = Path.Combine(Path.GetTempPath(), "checkpointing-s3-private-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_data);
    }

    public int Port { get; private set; }

    public string Url => $"http://127.0.0.1:{Port}";

    public static async Task<PrivateS3Server> StartAsync()
    {
        var root = RepositoryRoot();
        await InstallAsync(root); // what s3_start does first: npm ci and the patch, when not done yet
        var server = new PrivateS3Server(root);
        await server.ResumeAsync();
        return server;
    }

    /// <summary>Stops the emulator; its data stays.</summary>
    public async Task HaltAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process?.Dispose();
        _process = null;
    }

    /// <summary>Starts the emulator (again, on the same port once it has one).</summary>
    public async Task ResumeAsync()
    {
        var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(_root, "tests", "infra", "s3", "server.js"));
        start.ArgumentList.Add(_data);
        start.ArgumentList.Add(Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        start.ArgumentList.Add("keep");
        _process = Process.Start(start) ?? throw new InvalidOperationException("node could not be started.");
        var stderr = _process.StandardError.ReadToEndAsync();
        var line = await _process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        if (line is null || !line.StartsWith("port=", StringComparison.Ordinal))
        {
            await _process.WaitForExitAsync();
            throw new InvalidOperationException($"The S3 emulator did not start: {await stderr}");
        }

        Port = int.Parse(line["port=".Length..], System.Globalization.CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        await HaltAsync();
        try
        {
            Directory.Delete(_data, recursive: true);
        }
        catch (IOException)
        {
            // Cleaned up with the temp folder.
        }
    }

    private static async Task InstallAsync(string root)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(". \"$0\" && s3_install");
        start.ArgumentList.Add(Path.Combine(root, "tests", "infra", "s3.sh"));
        using var process = Process.Start(start) ?? throw new InvalidOperationException("bash could not be started.");
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"tests/infra/s3.sh: s3_install failed ({(await stderr).Trim()}); the emulator needs node and npm.");
        }
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Checkpointing.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Checkpointing.sln above {AppContext.BaseDirectory}: run the tests from the repository's build output.");
    }
}
