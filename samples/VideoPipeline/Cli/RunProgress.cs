using Checkpointing;
using Spectre.Console;

namespace VideoPipeline.Cli;

/// <summary>
/// Shows a run's progress while the runner works, from the SDK's event stream (<see cref="CheckpointQueries.WatchAsync"/>):
/// a progress bar per phase on a terminal, one line per event when output is plain.
/// </summary>
public static class RunProgress
{
    public static async Task<T> TrackAsync<T>(Session session, Guid runId, Func<CancellationToken, Task<T>> work, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        // Subscribe before the work starts so no event is missed.
        var events = session.Queries.WatchAsync(runId, stop.Token);
        var settled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ui = session.Ui;

        var shown = false;
        async Task<T> RunAsync(Action<CheckpointEvent> show)
        {
            var pump = PumpAsync(events, e => { shown = true; show(e); }, settled);
            try
            {
                return await work(ct);
            }
            finally
            {
                // Events are logged before the runner returns, but the pump reads the log on its own schedule (another
                // process's events by polling): give it a moment to show the last ones, longer once it showed some.
                await Task.WhenAny(settled.Task, Task.Delay(TimeSpan.FromMilliseconds(shown ? 1500 : 300), CancellationToken.None));
                await stop.CancelAsync();
                await pump;
            }
        }

        if (ui.Plain)
        {
            return await RunAsync(e => PrintLine(ui, e));
        }

        return await ui.Out.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var tasks = new Dictionary<int, ProgressTask>();
                return await RunAsync(e =>
                {
                    switch (e)
                    {
                        case PhaseStarted started:
                            var task = context.AddTask(Ui.Esc($"phase {started.Phase} {started.PhaseName} on {started.Branch}"), maxValue: 1);
                            task.IsIndeterminate = true;
                            tasks[started.Phase] = task;
                            break;
                        case UnitCompleted unit when tasks.TryGetValue(unit.Phase, out var t):
                            t.IsIndeterminate = false;
                            t.MaxValue = unit.Total;
                            t.Value = unit.Completed;
                            t.Description = Ui.Esc($"phase {unit.Phase} unit {unit.Completed}/{unit.Total}");
                            break;
                        case CheckpointCreated created when tasks.TryGetValue(created.Phase, out var t):
                            t.IsIndeterminate = false;
                            t.Value = t.MaxValue;
                            t.Description = Ui.Esc($"phase {created.Phase} done on {created.Branch} ({Ui.Money(created.Cost)})");
                            t.StopTask();
                            break;
                    }
                });
            });
    }

    /// <summary>Shows a spinner while <paramref name="work"/> runs (nothing when output is plain).</summary>
    public static Task<T> SpinAsync<T>(Ui ui, string what, Func<Task<T>> work) =>
        ui.Plain ? work() : ui.Out.Status().StartAsync(Ui.Esc(what), _ => work());

    internal static void PrintLine(Ui ui, CheckpointEvent e)
    {
        switch (e)
        {
            case PhaseStarted started:
                ui.Line($"  phase {started.Phase} ({started.PhaseName}) started on {started.Branch}");
                break;
            case UnitCompleted unit:
                ui.Line($"    unit {unit.UnitIndex} done ({unit.Completed}/{unit.Total}, {Ui.Money(unit.Cost)})");
                break;
            case CheckpointCreated created:
                ui.Line($"  checkpoint {created.CheckpointId} saved: phase {created.Phase} on {created.Branch}, {Ui.Money(created.Cost)}");
                break;
            case BranchCreated branch:
                ui.Line($"  branch {branch.Branch} forked from {branch.ParentBranch} at checkpoint {Ui.Short(branch.ForkedFrom)}");
                break;
        }
    }

    private static async Task PumpAsync(IAsyncEnumerable<CheckpointEvent> events, Action<CheckpointEvent> show, TaskCompletionSource settled)
    {
        try
        {
            await foreach (var e in events)
            {
                show(e);
                if (e is RunPaused or RunCompleted or RunFailed or RunCancelled)
                {
                    settled.TrySetResult();
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The work finished and the stream was closed.
        }
    }
}
