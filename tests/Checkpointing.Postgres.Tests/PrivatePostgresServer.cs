using System.Diagnostics;

namespace Checkpointing.Postgres.Tests;

/// <summary>
/// A PostgreSQL cluster of one test's own, started with <c>tests/infra/postgres.sh</c>, that the test may stop and start
/// again (an outage) without disturbing the server the other tests share. Deleted on dispose.
/// </summary>
internal sealed class PrivatePostgresServer : IAsyncDisposable
{
    private readonly string _directory;

    private PrivatePostgresServer(string directory, string connectionString)
    {
        _directory = directory;
        ConnectionString = connectionString;
    }

    public string ConnectionString { get; }

    public static async Task<PrivatePostgresServer> StartAsync()
    {
        var output = await RunAsync("pg_start && echo \"$PG_TMP\" && echo \"$CHECKPOINTING_POSTGRES\"", null);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return new PrivatePostgresServer(lines[^2], lines[^1]);
    }

    /// <summary>Stops the server and keeps its data.</summary>
    public Task HaltAsync() => RunAsync("pg_halt", _directory);

    /// <summary>Starts the halted server again on the same port.</summary>
    public Task ResumeAsync() => RunAsync("pg_resume", _directory);

    public async ValueTask DisposeAsync() => await RunAsync("pg_stop", _directory);

    private static async Task<string> RunAsync(string command, string? directory)
    {
        var script = Path.Combine(RepositoryRoot(), "tests", "infra", "postgres.sh");
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($". \"$0\" && {(directory is null ? "" : "PG_TMP=\"$1\" && ")}{command}");
        start.ArgumentList.Add(script);
        if (directory is not null)
        {
            start.ArgumentList.Add(directory);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("bash could not be started.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"tests/infra/postgres.sh: '{command}' failed with exit code {process.ExitCode}: {(await stderr).Trim()} " +
                "This test starts a PostgreSQL server of its own and needs the PostgreSQL binaries (./test.sh installs them with apt-get when root).");
        }

        return await stdout;
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
