using System.Text.RegularExpressions;
using VideoPipeline.Tests.Support;

namespace VideoPipeline.Tests;

/// <summary>A process killed in the middle of a phase; another process resumes it without paying for any job twice.</summary>
[Collection(SignalsCollection.Name)]
public sealed class CrashTests
{
    [Fact]
    public async Task After_a_crash_the_run_reads_as_interrupted_and_continuing_again_resumes_it_paying_once()
    {
        using var app = new SampleApp();
        app.Environment["Checkpointing__LeaseDuration"] = "00:00:02";
        var plan = Ids.PausedCheckpoint((await app.SucceedAsync("run", "--beats", "4", "--duration", "8")).Stdout);

        // Slow jobs, and a kill shortly after the first storyboard image is recorded, while the next jobs are in
        // flight. (The kill waits 300 ms so it does not land between a job's submission and its journal entry: a
        // crash in that window of a few milliseconds would leave one job unknown to the store.)
        app.Environment["Studio__LatencyMilliseconds"] = "1500";
        var crashed = await app.RunAndKillAsync(line => line.Contains(" done (", StringComparison.Ordinal), TimeSpan.FromMilliseconds(300), "continue", plan);
        Assert.NotEqual(0, crashed.ExitCode);
        var jobsAtCrash = StudioJobs(app);
        Assert.InRange(jobsAtCrash, 3, 5); // the plan's job and at least two storyboard jobs were submitted

        // Once the dead process's lease has expired, status says interrupted (not "running" forever)…
        var status = await WaitForStatusAsync(app, "interrupted at phase 2 (storyboard) on main since");
        Assert.DoesNotContain("failed", status);

        // …and continuing the same checkpoint again resumes the phase instead of answering "already continued".
        app.Environment["Studio__LatencyMilliseconds"] = "0";
        var resumed = await app.SucceedAsync("continue", plan);
        Assert.DoesNotContain("already continued", resumed.Stdout);
        Assert.Contains("paused at phase 2 (storyboard) on main", resumed.Stdout);

        // Every unit was made exactly once across the two processes…
        var before = DoneUnits(crashed.Stdout);
        var after = DoneUnits(resumed.Stdout);
        Assert.NotEmpty(before);
        Assert.Empty(before.Intersect(after));
        Assert.Equal([1, 2, 3, 4], before.Union(after).Order());

        // …every job was submitted once (jobs in flight at the crash were waited on again, not resubmitted)…
        Assert.Equal(5, StudioJobs(app));

        // …and paid once: the plan and four images.
        Assert.Contains("cost: $0.1030", (await app.SucceedAsync("status")).Stdout);
    }

    [Fact]
    public async Task Ctrl_C_interrupts_without_cancelling_the_job_and_retry_reattaches_to_it()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Skip("Sends SIGINT through libc.");
        }

        using var app = new SampleApp();
        app.Environment["Studio__LatencyMilliseconds"] = "8000";
        var interrupted = await app.RunAndSignalAsync(line => line.Contains("phase 1 (plan) started", StringComparison.Ordinal), TimeSpan.FromMilliseconds(500), "run", "--beats", "2", "--duration", "4");
        Assert.Equal(130, interrupted.ExitCode);
        Assert.StartsWith("error: interrupted", Assert.Single(interrupted.ErrorLines), StringComparison.Ordinal);

        // Interrupted, not failed and not cancelled: the lease was released on the way out, so it reads so at once.
        Assert.Contains("interrupted at phase 1 (plan) on main", (await app.SucceedAsync("status")).Stdout);
        Assert.Equal(1, StudioJobs(app));
        Assert.Empty(Directory.GetFiles(Path.Combine(app.DataPath, "studio", "jobs"), "*.cancelled"));

        // Retry re-attaches to the job still running at the backend: nothing is submitted or paid again.
        var retry = await app.SucceedAsync("retry");
        Assert.Contains("paused at phase 1 (plan) on main", retry.Stdout);
        Assert.Equal(1, StudioJobs(app));
        Assert.Contains("cost: $0.0030", (await app.SucceedAsync("status")).Stdout);
    }

    internal static async Task<string> WaitForStatusAsync(SampleApp app, string expected, params string[] args)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var status = (await app.SucceedAsync(["status", .. args])).Stdout;
            if (status.Contains(expected, StringComparison.Ordinal))
            {
                return status;
            }

            Assert.True(DateTime.UtcNow < until, $"status never said '{expected}':\n{status}");
            await Task.Delay(250);
        }
    }

    internal static int[] DoneUnits(string output) =>
        [.. Regex.Matches(output, @"unit (?<n>\d+) done \(").Select(m => int.Parse(m.Groups["n"].Value, System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>Jobs the studio backend accepted: one request file each.</summary>
    internal static int StudioJobs(SampleApp app) =>
        Directory.GetFiles(Path.Combine(app.DataPath, "studio", "jobs"), "*.json").Count(f => !f.EndsWith(".result.json", StringComparison.Ordinal));
}

/// <summary>The studio backend's own files when a write fails (a full disk, a path it cannot replace).</summary>
public sealed class StudioFileTests
{
    [Fact]
    public async Task A_result_that_cannot_be_written_fails_the_phase_and_leaves_no_temporary_file()
    {
        using var app = new SampleApp();
        var plan = Ids.PausedCheckpoint((await app.SucceedAsync("run", "--beats", "2", "--duration", "4")).Stdout);
        app.Environment["Studio__LatencyMilliseconds"] = "1500";
        var jobs = Path.Combine(app.DataPath, "studio", "jobs");
        var before = Directory.GetFiles(jobs, "*.json").ToHashSet();

        // While the storyboard's jobs run, their result paths become folders: the final move of each result fails.
        using var running = app.Start("continue", plan);
        var blocked = new HashSet<string>();
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (blocked.Count < 2)
        {
            Assert.True(DateTime.UtcNow < until && !running.HasExited, running.Stdout);
            foreach (var job in Directory.GetFiles(jobs, "st-*.json").Where(f => !before.Contains(f) && !f.EndsWith(".result.json", StringComparison.Ordinal)))
            {
                if (blocked.Add(job))
                {
                    Directory.CreateDirectory(Path.ChangeExtension(job, null) + ".result.json");
                }
            }

            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        var result = await running.WaitAsync();

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("failed at phase 2 (storyboard)", (await app.SucceedAsync("status")).Stdout);
        Assert.Empty(Directory.GetFiles(jobs, "*.tmp"));
    }
}
