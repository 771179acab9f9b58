using System.Diagnostics;
using System.Text.Json;

namespace Checkpointing.Sqlite.Tests;

/// <summary>Real separate processes (the Checkpointing.Sqlite.Worker program) writing to one database file at once.</summary>
public sealed class CrossProcessTests : IDisposable
{
    private const int Forks = 10;
    private const int Edits = 15;
    private readonly TempDatabase _database = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task Two_worker_processes_and_this_one_fork_and_edit_without_collisions_or_lost_updates()
    {
        using var store = _database.Open();
        using var input = JsonDocument.Parse("""{"v":0}""");
        var now = DateTimeOffset.UtcNow;
        var run = new Run(Guid.NewGuid(), "video", "owner", input.RootElement.Clone(), false, RunStatus.Paused, 1, "main", null, null, 0m, null, now, now);
        await store.CreateRunAsync(run, Ct);
        var checkpoint = await store.CommitCheckpointAsync(new NewCheckpoint(Guid.NewGuid(), run.Id, "main", 1, null, null, 0m, null, null, [],
            [new NewArtifact(Guid.NewGuid(), "spec", "spec", ArtifactContent.FromJson(input.RootElement), ArtifactMetadata.Empty)], null, 0m, now), Ct);

        var workers = Enumerable.Range(0, 2).Select(_ => RunWorkerAsync(run.Id, checkpoint.Id)).ToList();
        var local = Enumerable.Range(0, Forks).Select(_ => Task.Run(() => store.CreateBranchAsync(run.Id, "main", checkpoint.Id, now, Ct), Ct)).ToList();
        var outputs = await Task.WhenAll(workers);
        var localBranches = await Task.WhenAll(local);

        var workerBranches = outputs.SelectMany(o => o).Where(l => l.StartsWith("branch ", StringComparison.Ordinal)).Select(l => l["branch ".Length..]);
        var names = workerBranches.Concat(localBranches.Select(b => b.Name)).ToList();
        Assert.Equal(3 * Forks, names.Count);
        Assert.Equal(Enumerable.Range(1, 3 * Forks).Select(n => $"main-{n}").Order(StringComparer.Ordinal), names.Order(StringComparer.Ordinal));
        Assert.Equal(3 * Forks + 1, (await store.ListBranchesAsync(run.Id, Ct)).Count);

        var artifact = (await store.GetArtifactAsync(checkpoint.Id, "spec", "spec", Ct))!;
        Assert.Equal(2 * Edits + 1, artifact.Version);
        Assert.Equal(Enumerable.Range(1, 2 * Edits + 1), (await store.GetArtifactHistoryAsync(artifact.Id, Ct)).Select(v => v.Version));
        Assert.Equal(2 * Edits * 0.01m, (await store.GetRunAsync(run.Id, Ct))!.Cost);
    }

    private async Task<string[]> RunWorkerAsync(Guid runId, Guid checkpointId)
    {
        var worker = Path.Combine(AppContext.BaseDirectory, "Checkpointing.Sqlite.Worker.dll");
        Assert.True(File.Exists(worker), $"The worker program is missing at {worker}.");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { worker, _database.FilePath, runId.ToString(), checkpointId.ToString(), Forks.ToString(System.Globalization.CultureInfo.InvariantCulture), Edits.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("The worker did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync(Ct);
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        var output = await stdout;
        Assert.True(process.ExitCode == 0, $"The worker exited with {process.ExitCode}: {await stderr}");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }
}
