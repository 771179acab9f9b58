using System.CommandLine;
using Checkpointing;
using VideoPipeline.Phases;

namespace VideoPipeline.Cli;

/// <summary>
/// The seed's verification flow end to end, with the same operations as the single commands: run (paused at
/// phase 1) -> edit the spec -> continue on main-1 -> regenerate beat 3 -> continue on main-1-1 -> continue to the
/// end -> the tree with three branches and the total cost.
/// </summary>
public static class Demo
{
    public const string DefaultPrompt = "a ceramic desk lamp on an oak desk, cozy evening light";

    public static Command Command()
    {
        var prompt = new Option<string>("--prompt") { Description = "The idea for the video.", DefaultValueFactory = _ => DefaultPrompt };
        return Commands.Define("demo", "Walk the whole review flow on one new run: pause, edit, branch, regenerate, branch, complete.", async (s, p, ct) =>
        {
            var ui = s.Ui;
            ui.Line($"VideoPipeline demo (data folder: {s.Data.Path})");

            // 1. Start with auto-continue off: phase 1 writes the spec, then the run pauses for review.
            ui.Line();
            ui.Line("1. run: phase 1 plans the video, then the run pauses for review");
            var started = await Operations.StartAsync(s, Commands.ValidateInput(p.GetValue(prompt)!, 10, 4), autoContinue: false, ct);
            if (Operations.ReportOutcome(s, started.Run, started.Checkpoint) != 0 || started.Checkpoint is not { } plan)
            {
                return 1;
            }

            // 2. Edit the spec with a JSON Merge Patch: the mood and the music change; v1 stays in history.
            ui.Line();
            ui.Line("2. edit-spec: a warmer mood and acoustic music");
            await Operations.EditSpecAsync(s, plan, """{"style":{"mood":"warm","palette":["#f4a261","#6d4c41","#ffe8cc"]},"audio":{"music_style":"acoustic guitar"}}""", "warmer mood", ct);

            // 3. Continue: the spec was edited, so the storyboard runs on a new branch, main-1.
            ui.Line();
            ui.Line("3. continue: the edited spec forks branch main-1 and phase 2 draws the storyboard");
            var storyboard = await StepAsync(s, plan, ct);
            if (storyboard is null)
            {
                return 1;
            }

            // 4. Regenerate beat 3 with another prompt: beat_3 becomes v2.
            ui.Line();
            ui.Line("4. regenerate-beat 3 with a closer shot");
            await Operations.RegenerateBeatAsync(s, storyboard, 3, "extreme close-up of the lamp's glowing shade", null, ct);

            // 5. Continue: the storyboard was edited, so the clips are made on main-1-1.
            ui.Line();
            ui.Line("5. continue: the edited storyboard forks branch main-1-1 and phase 3 animates every beat");
            var chunks = await StepAsync(s, storyboard, ct);
            if (chunks is null)
            {
                return 1;
            }

            // 6. Continue to the end: phase 4 joins the clips; the terminal checkpoint completes the run.
            ui.Line();
            ui.Line("6. continue: phase 4 assembles the final cut");
            var final = await StepAsync(s, chunks, ct);
            if (final is null)
            {
                return 1;
            }

            // 7. The tree: three branches, every checkpoint, and what it all cost.
            ui.Line();
            ui.Line("7. the checkpoint tree");
            await Operations.PrintTreeAsync(s, plan.RunId, ct);
            return 0;
        }, prompt);
    }

    private static async Task<Checkpoint?> StepAsync(Session s, Checkpoint from, CancellationToken ct)
    {
        var result = await Operations.ContinueAsync(s, from, null, ct);
        var run = await s.Queries.GetRunAsync(from.RunId, ct);
        return Operations.ReportOutcome(s, run, result.Checkpoint) == 0 ? result.Checkpoint : null;
    }
}
