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
        var run = new Run
        {
            Id = Guid.NewGuid(),
            Pipeline = "video",
            OwnerId = "owner",
            Input = input.RootElement.Clone(),
            Status = RunStatus.Paused,
            CurrentPhase = 1,
            CurrentBranch = "main",
            CreatedAt = now,
            UpdatedAt = now,
        };
        await store.CreateRunAsync(run, Ct);
        var checkpoint = await store.CommitCheckpointAsync(new NewCheckpoint
        {
            Id = Guid.NewGuid(),
            RunId = run.Id,
            Branch = "main",
            Phase = 1,
            Artifacts = [new NewArtifact(Guid.NewGuid(), "spec", "spec", ArtifactContent.FromJson(input.RootElement), ArtifactMetadata.Empty)],
            CreatedAt = now,
        }, Ct);

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

    [Fact]
    public async Task Worker_processes_claiming_next_work_on_one_file_claim_every_run_exactly_once()
    {
        const int Processes = 4;
        const int Runs = 60;
        using var store = _database.Open();
        using var input = JsonDocument.Parse("""{"v":0}""");
        var now = DateTimeOffset.UtcNow;
        var queued = new List<Guid>();
        for (var i = 0; i < Runs; i++)
        {
            var at = now.AddSeconds(-Runs + i);
            var run = new Run
            {
                Id = Guid.NewGuid(),
                Pipeline = "video",
                OwnerId = "owner",
                Input = input.RootElement.Clone(),
                AutoContinue = true,
                Status = RunStatus.Queued,
                CurrentPhase = 1,
                CurrentBranch = "main",
                CreatedAt = at,
                UpdatedAt = at,
            };
            await store.CreateRunAsync(run, Ct);
            queued.Add(run.Id);
        }

        // Never claimed: a paused run, and a running one whose lease another executor holds.
        var paused = new Run
        {
            Id = Guid.NewGuid(),
            Pipeline = "video",
            OwnerId = "owner",
            Input = input.RootElement.Clone(),
            Status = RunStatus.Paused,
            CurrentPhase = 1,
            CurrentBranch = "main",
            CreatedAt = now,
            UpdatedAt = now,
        };
        await store.CreateRunAsync(paused, Ct);
        var held = paused with { Id = Guid.NewGuid(), Status = RunStatus.Running, LeaseOwner = "elsewhere", LeaseExpiresAt = now.AddHours(2), LeaseToken = 1 };
        await store.CreateRunAsync(held, Ct);

        var go = Path.Combine(_database.Folder, "go");
        var workers = Enumerable.Range(0, Processes).Select(i => WorkerProcess.Start("claim", _database.FilePath, $"worker-{i}", go)).ToList();
        try
        {
            foreach (var worker in workers)
            {
                await worker.WaitForLineAsync("ready");
            }

            await File.WriteAllTextAsync(go, "", Ct);
            var outputs = await Task.WhenAll(workers.Select(w => w.FinishAsync()));

            var claims = outputs.SelectMany((lines, i) => lines.Where(l => l.StartsWith("claimed ", StringComparison.Ordinal))
                .Select(l => l.Split(' ')).Select(p => (Run: Guid.Parse(p[1]), Token: long.Parse(p[2], System.Globalization.CultureInfo.InvariantCulture), Owner: $"worker-{i}"))).ToList();
            Assert.Equal(Runs, claims.Count);
            Assert.Equal(queued.Order(), claims.Select(c => c.Run).Order());
            Assert.All(claims, c => Assert.Equal(1, c.Token));
            Assert.True(claims.Select(c => c.Owner).Distinct().Count() > 1, "One process claimed every run: the claims did not race.");
            foreach (var claim in claims)
            {
                var stored = (await store.GetRunAsync(claim.Run, Ct))!;
                Assert.Equal((claim.Owner, 1L, RunStatus.Queued), (stored.LeaseOwner, stored.LeaseToken, stored.Status));
            }

            Assert.Null((await store.GetRunAsync(paused.Id, Ct))!.LeaseOwner);
            Assert.Equal(("elsewhere", 1L), ((await store.GetRunAsync(held.Id, Ct))!.LeaseOwner, (await store.GetRunAsync(held.Id, Ct))!.LeaseToken));
        }
        finally
        {
            foreach (var worker in workers)
            {
                worker.Dispose();
            }
        }
    }

    private async Task<string[]> RunWorkerAsync(Guid runId, Guid checkpointId)
    {
        using var worker = WorkerProcess.Start(_database.FilePath, runId.ToString(), checkpointId.ToString(),
            Forks.ToString(System.Globalization.CultureInfo.InvariantCulture), Edits.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return await worker.FinishAsync();
    }

    /// <summary>One Checkpointing.Sqlite.Worker process with its output read as it comes; killed on dispose if still running.</summary>
    private sealed class WorkerProcess : IDisposable
    {
        private readonly Process _process;
        private readonly Task<string> _stderr;
        private readonly List<string> _lines = [];

        private WorkerProcess(Process process)
        {
            _process = process;
            _stderr = process.StandardError.ReadToEndAsync(Ct);
        }

        public static WorkerProcess Start(params string[] arguments)
        {
            var worker = Path.Combine(AppContext.BaseDirectory, "Checkpointing.Sqlite.Worker.dll");
            Assert.True(File.Exists(worker), $"The worker program is missing at {worker}.");
            var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add(worker);
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            return new WorkerProcess(Process.Start(start) ?? throw new InvalidOperationException("The worker did not start."));
        }

        /// <summary>Reads output lines until <paramref name="expected"/> comes (within two minutes).</summary>
        public async Task WaitForLineAsync(string expected)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            timeout.CancelAfter(TimeSpan.FromMinutes(2));
            while (await _process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                _lines.Add(line.Trim());
                if (line.Trim() == expected)
                {
                    return;
                }
            }

            Assert.Fail($"The worker ended (exit code {(_process.HasExited ? _process.ExitCode : -1)}) without printing '{expected}': {await _stderr}");
        }

        /// <summary>Waits (at most two minutes) for the process to exit with code 0 and returns every line it printed.</summary>
        public async Task<string[]> FinishAsync()
        {
            var stdout = _process.StandardOutput.ReadToEndAsync(Ct);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            timeout.CancelAfter(TimeSpan.FromMinutes(2));
            await _process.WaitForExitAsync(timeout.Token);
            var rest = await stdout;
            Assert.True(_process.ExitCode == 0, $"The worker exited with {_process.ExitCode}: {await _stderr}");
            return [.. _lines, .. rest.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
        }

        public void Dispose()
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            _process.Dispose();
        }
    }
}
