using System.Text.RegularExpressions;
using VideoPipeline.Tests.Support;

namespace VideoPipeline.Tests;

/// <summary>A process killed in the middle of a phase; another process resumes it without paying for any job twice.</summary>
public sealed class CrashTests
{
    [Fact]
    public async Task Retry_after_a_crash_keeps_finished_units_and_reattaches_to_submitted_jobs()
    {
        using var app = new SampleApp();
        var plan = Ids.PausedCheckpoint((await app.SucceedAsync("run", "--beats", "4", "--duration", "8")).Stdout);

        // Slow jobs, and a kill shortly after the first storyboard image is recorded, while the next jobs are in
        // flight. (The kill waits 300 ms so it does not land between a job's submission and its journal entry: a
        // crash in that window of a few milliseconds would leave one job unknown to the store.)
        app.Environment["Studio__LatencyMilliseconds"] = "1500";
        var crashed = await app.RunAndKillAsync(line => line.Contains(" done (", StringComparison.Ordinal), TimeSpan.FromMilliseconds(300), "continue", plan);
        Assert.NotEqual(0, crashed.ExitCode);
        Assert.Contains("running phase 2 (storyboard) on main", (await app.SucceedAsync("status")).Stdout);
        var jobsAtCrash = StudioJobs(app);
        Assert.InRange(jobsAtCrash, 3, 5); // the plan's job and at least two storyboard jobs were submitted

        app.Environment["Studio__LatencyMilliseconds"] = "0";
        var retry = await app.SucceedAsync("retry");
        Assert.Contains("paused at phase 2 (storyboard) on main", retry.Stdout);

        // Every unit was made exactly once across the two processes…
        var before = DoneUnits(crashed.Stdout);
        var after = DoneUnits(retry.Stdout);
        Assert.NotEmpty(before);
        Assert.Empty(before.Intersect(after));
        Assert.Equal([1, 2, 3, 4], before.Union(after).Order());

        // …every job was submitted once (jobs in flight at the crash were waited on again, not resubmitted)…
        Assert.Equal(5, StudioJobs(app));

        // …and paid once: the plan and four images.
        Assert.Contains("cost: $0.1030", (await app.SucceedAsync("status")).Stdout);
    }

    [Fact]
    public async Task Ctrl_C_cancels_the_job_and_records_the_interrupted_phase_which_retry_completes()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Skip("Sends SIGINT through libc.");
        }

        using var app = new SampleApp();
        app.Environment["Studio__LatencyMilliseconds"] = "3000";
        var interrupted = await app.RunAndSignalAsync(line => line.Contains("phase 1 (plan) started", StringComparison.Ordinal), TimeSpan.FromMilliseconds(500), "run", "--beats", "2", "--duration", "4");
        Assert.Equal(130, interrupted.ExitCode);
        Assert.StartsWith("error: cancelled", Assert.Single(interrupted.ErrorLines), StringComparison.Ordinal);
        Assert.Contains("failed at phase 1 (plan) on main: Interrupted", (await app.SucceedAsync("status")).Stdout);
        // Unlike a crash, an interrupt cancels the job at the backend (as the SDK asks backends to).
        Assert.Equal(1, StudioJobs(app));
        Assert.Single(Directory.GetFiles(Path.Combine(app.DataPath, "studio", "jobs"), "*.cancelled"));

        // So retry finds the recorded job cancelled and submits a new one; the cancelled job cost nothing.
        app.Environment["Studio__LatencyMilliseconds"] = "0";
        var retry = await app.SucceedAsync("retry");
        Assert.Contains("paused at phase 1 (plan) on main", retry.Stdout);
        Assert.Equal(2, StudioJobs(app));
        Assert.Contains("cost: $0.0030", (await app.SucceedAsync("status")).Stdout);
    }

    private static int[] DoneUnits(string output) =>
        [.. Regex.Matches(output, @"unit (?<n>\d+) done \(").Select(m => int.Parse(m.Groups["n"].Value, System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>Jobs the studio backend accepted: one request file each.</summary>
    private static int StudioJobs(SampleApp app) =>
        Directory.GetFiles(Path.Combine(app.DataPath, "studio", "jobs"), "*.json").Count(f => !f.EndsWith(".result.json", StringComparison.Ordinal));
}
