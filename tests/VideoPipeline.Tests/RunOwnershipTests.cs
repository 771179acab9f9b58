using System.Text.RegularExpressions;
using VideoPipeline.Tests.Support;

namespace VideoPipeline.Tests;

/// <summary>
/// One executor per run across processes: every command and worker is its own process, on one SQLite data folder or
/// one PostgreSQL schema. The studio backend's job files count what was paid for.
/// </summary>
[Collection(SignalsCollection.Name)]
public sealed class RunOwnershipTests
{
    private static string PostgresConnection =>
        Environment.GetEnvironmentVariable("CHECKPOINTING_POSTGRES") is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException("CHECKPOINTING_POSTGRES is not set: run ./test.sh, which starts a throwaway PostgreSQL server, or set it to a connection string.");

    private static SampleApp App(string store)
    {
        var app = new SampleApp { Timeout = TimeSpan.FromMinutes(3) };
        app.Environment["Checkpointing__LeaseDuration"] = "00:00:02";
        if (store == "postgres")
        {
            app.Environment["Checkpointing__Store"] = "postgres";
            app.Environment["Checkpointing__Postgres"] = PostgresConnection;
            app.Environment["Checkpointing__PostgresSchema"] = "own_" + Guid.NewGuid().ToString("N")[..12];
        }

        return app;
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Retry_while_another_process_executes_the_run_is_refused_and_everything_is_paid_once(string store)
    {
        using var app = App(store);
        app.Environment["Studio__LatencyMilliseconds"] = "400";
        using var running = app.Start("run", "--auto-continue", "--beats", "2", "--duration", "4");
        await running.WaitForLineAsync(l => l.Contains("phase 2 (storyboard) started", StringComparison.Ordinal));

        var retry = await app.RunAsync("retry");
        var done = await running.WaitAsync();

        Assert.Equal(1, retry.ExitCode);
        Assert.Contains("is being executed by", retry.Stderr);
        Assert.Equal(0, done.ExitCode);
        Assert.Contains("completed: the final cut is checkpoint", done.Stdout);
        Assert.Equal(5, CrashTests.StudioJobs(app)); // the plan, two images, two clips: as an uninterrupted run
        Assert.Contains("cost: $0.2330", (await app.SucceedAsync("status")).Stdout);
    }

    [Theory]
    [InlineData("postgres", 30)]
    [InlineData("sqlite", 8)]
    public async Task Three_workers_drain_queued_runs_once_each_even_when_one_is_killed(string store, int runs)
    {
        using var app = App(store);
        for (var batch = 0; batch < runs; batch += 6)
        {
            var queued = await Task.WhenAll(Enumerable.Range(batch, Math.Min(6, runs - batch))
                .Select(_ => app.RunAsync("run", "--queue", "--auto-continue", "--beats", "2", "--duration", "4")));
            Assert.All(queued, r => Assert.True(r.ExitCode == 0 && r.Stdout.Contains("waits for a worker", StringComparison.Ordinal), r.ToString()));
        }

        app.Environment["Studio__LatencyMilliseconds"] = "700";
        var jobs = Path.Combine(app.DataPath, "studio", "jobs");
        using var victim = app.Start("worker", "--concurrency", "4");
        using var second = app.Start("worker", "--concurrency", "4", "--until-idle");
        using var third = app.Start("worker", "--concurrency", "4", "--until-idle");

        // Kill one worker mid-phase, at a quiet moment: its jobs were submitted and journaled a while ago.
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (!(Directory.Exists(jobs) && CrashTests.StudioJobs(app) >= runs
                 && DateTime.UtcNow - Directory.GetFiles(jobs).Max(File.GetLastWriteTimeUtc) > TimeSpan.FromMilliseconds(250)))
        {
            Assert.True(DateTime.UtcNow < until && !victim.HasExited, "the workers never got going:\n" + victim.Stdout);
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        victim.Kill();
        var results = await Task.WhenAll(second.WaitAsync(), third.WaitAsync());
        Assert.All(results, r => Assert.True(r.ExitCode == 0 && r.Stdout.Contains("stopped", StringComparison.Ordinal), r.ToString()));

        // Every run completed, none is left Running, and every unit was generated once: five jobs per run.
        var list = (await app.SucceedAsync("runs")).Stdout;
        Assert.Equal(runs, Regex.Matches(list, @"completed on main").Count);
        Assert.DoesNotMatch("running|queued|interrupted|failed", list);
        Assert.Equal(5 * runs, CrashTests.StudioJobs(app));
        Assert.Equal(runs, Regex.Matches(list, @"\$0\.2330").Count);
    }

    [Fact]
    public async Task A_graceful_worker_stop_mid_phase_leaves_the_jobs_to_the_next_worker_which_finishes_paying_once()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Skip("Sends SIGINT through libc.");
        }

        using var app = App("sqlite");
        await app.SucceedAsync("run", "--queue", "--auto-continue", "--beats", "2", "--duration", "4");
        app.Environment["Studio__LatencyMilliseconds"] = "1500";
        using (var first = app.Start("worker"))
        {
            var jobs = Path.Combine(app.DataPath, "studio", "jobs");
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (!(Directory.Exists(jobs) && CrashTests.StudioJobs(app) >= 2))
            {
                Assert.True(DateTime.UtcNow < until, first.Stdout);
                await Task.Delay(20, TestContext.Current.CancellationToken);
            }

            await Task.Delay(300, TestContext.Current.CancellationToken);
            first.Interrupt();
            var stopped = await first.WaitAsync();
            Assert.Equal(0, stopped.ExitCode);
            Assert.Contains("stopped", stopped.Stdout);
        }

        var status = (await app.SucceedAsync("status")).Stdout;
        Assert.Contains("interrupted at phase 2 (storyboard)", status);
        var jobsAtStop = CrashTests.StudioJobs(app);
        Assert.Empty(Directory.GetFiles(Path.Combine(app.DataPath, "studio", "jobs"), "*.cancelled"));

        app.Environment["Studio__LatencyMilliseconds"] = "0";
        var next = await app.RunAsync("worker", "--until-idle");
        Assert.Equal(0, next.ExitCode);
        Assert.Contains("completed on main", (await app.SucceedAsync("status")).Stdout);
        Assert.Equal(5, CrashTests.StudioJobs(app));
        Assert.InRange(jobsAtStop, 2, 3);
        Assert.Contains("cost: $0.2330", (await app.SucceedAsync("status")).Stdout);
    }

    [Fact]
    public async Task A_watcher_in_another_process_sees_the_events_of_a_run_executed_elsewhere_in_order_on_postgres()
    {
        using var app = App("postgres");
        app.Environment["Studio__LatencyMilliseconds"] = "300";
        using var running = app.Start("run", "--auto-continue", "--beats", "2", "--duration", "4");
        await running.WaitForLineAsync(l => l.Contains(" started: ", StringComparison.Ordinal));
        var runId = Ids.RunId(running.Stdout);

        var watched = await app.RunAsync("watch", runId, "--from-start");
        var done = await running.WaitAsync();

        Assert.Equal(0, done.ExitCode);
        Assert.True(watched.ExitCode == 0, watched.ToString());
        var sequences = Regex.Matches(watched.Stdout, @"^#(\d+) (\w+)$", RegexOptions.Multiline).Select(m => (Seq: long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), Kind: m.Groups[2].Value)).ToList();
        Assert.Equal(sequences.Select(s => s.Seq).Order(), sequences.Select(s => s.Seq));
        Assert.Equal(sequences.Count, sequences.Select(s => s.Seq).Distinct().Count());

        // The same phases, units and checkpoints, in the order the executing process reported them.
        string[] Lines(string output) => [.. output.Split('\n').Select(l => l.Trim()).Where(l => Regex.IsMatch(l, @"^(phase \d \(\w+\) started|unit \d done|checkpoint [0-9a-f-]{36} saved)"))];
        Assert.Equal(Lines(done.Stdout).Select(l => l.Split(" (")[0]), Lines(watched.Stdout).Select(l => l.Split(" (")[0]));
        Assert.Equal(4, Lines(watched.Stdout).Count(l => l.StartsWith("checkpoint ", StringComparison.Ordinal)));
        Assert.Equal("RunCompleted", sequences[^1].Kind);
    }
}
