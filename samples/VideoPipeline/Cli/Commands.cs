using Checkpointing.Storage;
using System.CommandLine;
using Checkpointing;
using Microsoft.Extensions.Options;
using Spectre.Console;
using VideoPipeline.Hosting;
using VideoPipeline.Phases;

namespace VideoPipeline.Cli;

/// <summary>The command line: one command per SDK operation, mirroring the seed's REST API, plus <c>demo</c>.</summary>
public static class Commands
{
    /// <summary>The data folder, for every command (default: Checkpointing:DataPath, i.e. ./data).</summary>
    private static readonly Option<string?> Data = new("--data")
    {
        Description = "The data folder (SQLite database, blobs, studio jobs). Default: ./data, or Checkpointing__DataPath.",
        Recursive = true,
    };

    public static RootCommand Build()
    {
        var root = new RootCommand(
            "The video pipeline on the Checkpointing SDK: plan -> storyboard -> chunks -> assemble, with a checkpoint after every phase, edits and branches.");
        root.Options.Add(Data);
        root.Subcommands.Add(Run());
        root.Subcommands.Add(Status());
        root.Subcommands.Add(Runs());
        root.Subcommands.Add(CheckpointsCommand());
        root.Subcommands.Add(Show());
        root.Subcommands.Add(TreeCommand());
        root.Subcommands.Add(BranchesCommand());
        root.Subcommands.Add(EditSpec());
        root.Subcommands.Add(UploadImage());
        root.Subcommands.Add(RegenerateBeat());
        root.Subcommands.Add(RegenerateChunk());
        root.Subcommands.Add(Continue());
        root.Subcommands.Add(Retry());
        root.Subcommands.Add(HistoryCommand());
        root.Subcommands.Add(Export());
        root.Subcommands.Add(Demo.Command());
        root.Subcommands.Add(Serve.Command());
        root.Subcommands.Add(Worker.Command());
        root.Subcommands.Add(Watch());
        return root;
    }

    /// <summary>
    /// Makes a command whose action opens a session (host, SDK) and maps failures to a one-line
    /// <c>error: ...</c> on stderr with a non-zero exit code: SDK errors, usage errors, configuration and file errors.
    /// </summary>
    internal static Command Define(string name, string description, Func<Session, ParseResult, CancellationToken, Task<int>> action, params Symbol[] symbols)
    {
        var command = new Command(name, description);
        foreach (var symbol in symbols)
        {
            switch (symbol)
            {
                case Argument argument:
                    command.Arguments.Add(argument);
                    break;
                case Option option:
                    command.Options.Add(option);
                    break;
            }
        }

        command.SetAction(async (parse, ct) =>
        {
            var ui = Ui.Create();
            try
            {
                using var session = Session.Open(parse.GetValue(Data), ui);

                // One read before the command prints anything: a store that cannot be used (an empty or foreign
                // database file, an unreachable server) fails here, before a command says it started.
                await session.Queries.ListRunsAsync(limit: 1, cancellationToken: ct);
                return await action(session, parse, ct);
            }
            catch (CheckpointingException e)
            {
                Ui.Error(e.Message);
                return 1;
            }
            catch (Exception e) when (e is UsageException or ConfigurationException)
            {
                Ui.Error(e.Message);
                return 1;
            }
            catch (OptionsValidationException e)
            {
                Ui.Error(string.Join(" ", e.Failures));
                return 1;
            }
            catch (AggregateException e) when (e.InnerExceptions.All(i => i is OptionsValidationException))
            {
                // Start-up validation of several option types: every problem on one line.
                Ui.Error(string.Join(" ", e.InnerExceptions.SelectMany(i => ((OptionsValidationException)i).Failures)));
                return 1;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Ui.Error(e.Message);
                return 1;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                Ui.Error("interrupted: the run is not cancelled; finished units and jobs in flight are kept (retry, or continue again, to resume).");
                return 130;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Anything else is a bug or an environment problem this program does not know: still one line, no
                // stack trace, with the exception's type so it can be reported.
                Ui.Error($"{e.Message.ReplaceLineEndings(" ")} ({e.GetType().Name})");
                return 70;
            }
        });
        return command;
    }

    private static Argument<string> CheckpointArgument() => new("checkpoint") { Description = "The checkpoint id (or a unique prefix of it)." };

    private static Argument<string?> RunArgument() => new("run") { Description = "The run id (or a unique prefix). Default: the latest run.", Arity = ArgumentArity.ZeroOrOne };

    private static Option<bool> QueueOption() => new("--queue")
    {
        Description = "Return at once and leave the phases to worker processes (see 'worker'). Default: Checkpointing__Queue, else off.",
    };

    private static Argument<int> BeatArgument() => new("beat") { Description = "The beat number, from 1." };

    private static Command Run()
    {
        var prompt = new Option<string>("--prompt") { Description = "The idea for the video.", DefaultValueFactory = _ => Demo.DefaultPrompt };
        var duration = new Option<double>("--duration") { Description = "The length of the video in seconds.", DefaultValueFactory = _ => 10 };
        var beats = new Option<int>("--beats") { Description = "How many beats (shots) to plan.", DefaultValueFactory = _ => 4 };
        var auto = new Option<bool>("--auto-continue") { Description = "Run every phase without pausing for review." };
        var queue = QueueOption();
        return Define("run", "Start a run: phase 1 plans the video, then the run pauses for review (unless --auto-continue).", async (s, p, ct) =>
        {
            var input = ValidateInput(p.GetValue(prompt)!, p.GetValue(duration), p.GetValue(beats));
            var result = await Operations.StartAsync(s, input, p.GetValue(auto), ct, p.GetValue(queue) || s.Settings.Queue);
            return Operations.ReportOutcome(s, result.Run, result.Checkpoint);
        }, prompt, duration, beats, auto, queue);
    }

    internal static RunInput ValidateInput(string prompt, double duration, int beats)
    {
        if (string.IsNullOrWhiteSpace(prompt))
        {
            throw new UsageException("--prompt is empty: describe the video in a sentence.");
        }

        if (!double.IsFinite(duration) || duration is <= 0 or > 120)
        {
            throw new UsageException($"--duration is {Ui.Number(duration)}; give between 1 and 120 seconds.");
        }

        if (beats < 1 || beats > SpecValidator.MaxBeats || duration / beats < 0.5)
        {
            throw new UsageException($"--beats is {beats}; give between 1 and {SpecValidator.MaxBeats}, each at least 0.5 s long.");
        }

        return new RunInput(prompt.Trim(), duration, beats);
    }

    private static Command Status()
    {
        var run = RunArgument();
        return Define("status", "Show a run's status, current checkpoint, branches and cost.", async (s, p, ct) =>
        {
            var snapshot = await s.Queries.GetStatusAsync((await s.ResolveRunAsync(p.GetValue(run), ct)).Id, ct);
            var r = snapshot.Run;
            s.Ui.Line($"run {r.Id}: {Views.RunState(r)}");
            s.Ui.Line($"prompt: {RunInput.From(r.Input).Prompt}");
            s.Ui.Line($"auto-continue: {(r.AutoContinue ? "on" : "off")}, started {Ui.Time(r.CreatedAt)} by {r.OwnerId}");
            if (r.LeaseOwner is not null && r.IsLeaseHeld(DateTimeOffset.UtcNow))
            {
                s.Ui.Line($"executor: {r.LeaseOwner} (lease until {Ui.Time(r.LeaseExpiresAt!.Value)})");
            }

            s.Ui.Line(snapshot.Current is { } c
                ? $"current checkpoint: {c.Id} ({Views.Phase(c.Phase)} on {c.Branch}, v{c.Version}, awaiting review)"
                : "current checkpoint: none awaiting review");
            s.Ui.Line($"branches: {Views.BranchList(snapshot)}");
            s.Ui.Line($"cost: {Ui.Money(snapshot.Cost)}");
            return 0;
        }, run);
    }

    private static Command Watch()
    {
        var run = RunArgument();
        var fromStart = new Option<bool>("--from-start") { Description = "Show the run's events from its beginning, then follow it." };
        return Define("watch", "Follow a run's events as they happen, whichever process executes it, until it pauses, completes, fails or is cancelled.", async (s, p, ct) =>
        {
            var r = await s.ResolveRunAsync(p.GetValue(run), ct);
            var events = p.GetValue(fromStart) ? s.Queries.WatchAsync(r.Id, 0, ct) : s.Queries.WatchAsync(r.Id, ct);
            s.Ui.Line($"watching run {r.Id}: {Views.RunState(r)}");
            if (!p.GetValue(fromStart) && r.Status is RunStatus.Paused or RunStatus.Completed or RunStatus.Failed or RunStatus.Cancelled)
            {
                return 0;
            }

            await foreach (var e in events)
            {
                s.Ui.Line($"#{e.Sequence} {e.GetType().Name}");
                RunProgress.PrintLine(s.Ui, e);
                if (e is RunPaused or RunCompleted or RunFailed or RunCancelled)
                {
                    var now = await s.Queries.GetRunAsync(r.Id, ct);
                    if (now.Status is not (RunStatus.Running or RunStatus.Queued))
                    {
                        s.Ui.Line($"run {r.Id}: {Views.RunState(now)}");
                        return 0;
                    }
                }
            }

            return 0;
        }, run, fromStart);
    }

    private static Command Runs() => Define("runs", "List runs, newest first.", async (s, p, ct) =>
    {
        var table = new Spectre.Console.Table().Border(s.Ui.Border).AddColumns("run", "status", "cost", "created", "prompt");
        foreach (var r in await s.Queries.ListRunsAsync(null, 100, ct))
        {
            table.AddRow(r.Id.ToString(), Ui.Esc(Views.RunState(r)), Ui.Money(r.Cost), Ui.Time(r.CreatedAt), Ui.Esc(RunInput.From(r.Input).Prompt));
        }

        s.Ui.Out.Write(table);
        return 0;
    });

    private static Command CheckpointsCommand()
    {
        var run = RunArgument();
        var branch = new Option<string?>("--branch") { Description = "Only this branch, e.g. main-1." };
        return Define("checkpoints", "List a run's checkpoints in creation order.", async (s, p, ct) =>
        {
            var r = await s.ResolveRunAsync(p.GetValue(run), ct);
            var checkpoints = await s.Queries.ListCheckpointsAsync(r.Id, p.GetValue(branch), ct);
            if (p.GetValue(branch) is { } b && checkpoints.Count == 0 && (await s.Queries.GetStatusAsync(r.Id, ct)).Branches.All(x => x.Name != b))
            {
                throw new UsageException($"Run {r.Id} has no branch '{b}'. List them with 'branches'.");
            }

            s.Ui.Line($"run {r.Id}: {checkpoints.Count} checkpoints{(p.GetValue(branch) is { } name ? $" on {name}" : "")}");
            s.Ui.Out.Write(Views.Checkpoints(s.Ui, checkpoints));
            return 0;
        }, run, branch);
    }

    private static Command Show()
    {
        var checkpoint = CheckpointArgument();
        return Define("show", "Show a checkpoint with its artifacts, read URLs and what it was built from.", async (s, p, ct) =>
        {
            var c = await s.ResolveCheckpointAsync(p.GetValue(checkpoint)!, ct);
            var details = await s.Queries.GetCheckpointAsync(c.Id, ct);
            s.Ui.Line($"checkpoint {c.Id}: {Views.Phase(c.Phase)} on {c.Branch} v{c.Version}, {c.Status.ToString().ToLowerInvariant()}, cost {Ui.Money(c.Cost)}");
            s.Ui.Line($"run {c.RunId}; parent {(c.ParentId is { } parent ? parent.ToString() : "none")}; created {Ui.Time(c.CreatedAt)} by {c.CreatedBy ?? "-"}{(c.EditDescription is { } d ? $" ({d})" : "")}");
            var consumed = await s.Queries.GetInputsAsync(c.Id, ct);
            if (consumed.Count > 0)
            {
                s.Ui.Line("built from: " + string.Join(", ", consumed.Select(x => $"{x.Key} v{x.Version}")));
            }

            s.Ui.Out.Write(Views.Artifacts(s.Ui, details));
            foreach (var view in details.Artifacts)
            {
                if (view.Artifact.Content.Json is { } json)
                {
                    s.Ui.Line($"{view.Artifact.Type}/{view.Artifact.Key} v{view.Artifact.Version}:");
                    s.Ui.Line(System.Text.Json.JsonSerializer.Serialize(json, VideoSpec.Json));
                }
                else if (view.ReadUrl is { } url)
                {
                    s.Ui.Line($"{view.Artifact.Key}: {url}");
                }
            }

            return 0;
        }, checkpoint);
    }

    private static Command TreeCommand()
    {
        var run = RunArgument();
        return Define("tree", "Show a run's checkpoint tree with its branches and total cost.", async (s, p, ct) =>
        {
            await Operations.PrintTreeAsync(s, (await s.ResolveRunAsync(p.GetValue(run), ct)).Id, ct);
            return 0;
        }, run);
    }

    private static Command BranchesCommand()
    {
        var run = RunArgument();
        return Define("branches", "List a run's branches with their leaf checkpoints and whether they can continue.", async (s, p, ct) =>
        {
            var r = await s.ResolveRunAsync(p.GetValue(run), ct);
            var snapshot = await s.Queries.GetStatusAsync(r.Id, ct);
            s.Ui.Line($"run {r.Id}: {snapshot.Branches.Count} branches");
            s.Ui.Out.Write(Views.Branches(s.Ui, snapshot));
            return 0;
        }, run);
    }

    private static Command EditSpec()
    {
        var checkpoint = CheckpointArgument();
        var patch = new Argument<string?>("patch") { Description = "A JSON Merge Patch (RFC 7396), e.g. '{\"style\":{\"mood\":\"warm\"}}'.", Arity = ArgumentArity.ZeroOrOne };
        var file = new Option<FileInfo?>("--file") { Description = "Read the merge patch from this file." };
        var description = new Option<string?>("--description") { Description = "Why (kept in the history)." };
        return Define("edit-spec", "Patch the spec of a phase 1 checkpoint with a JSON Merge Patch; it is validated and the old version kept.", async (s, p, ct) =>
        {
            var inline = p.GetValue(patch);
            var path = p.GetValue(file);
            if ((inline is null) == (path is null))
            {
                throw new UsageException("Give the merge patch inline or with --file, not both and not neither.");
            }

            var text = inline ?? await File.ReadAllTextAsync(path!.FullName, ct);
            var c = await s.ResolveCheckpointAsync(p.GetValue(checkpoint)!, ct);
            await Operations.EditSpecAsync(s, c, text, p.GetValue(description), ct);
            s.Ui.Line($"next: continue {Ui.Short(c.Id)} (runs phase 2 on a new branch)");
            return 0;
        }, checkpoint, patch, file, description);
    }

    private static Command UploadImage()
    {
        var checkpoint = CheckpointArgument();
        var beat = BeatArgument();
        var file = new Argument<FileInfo>("file") { Description = "A PNG, JPEG or WebP image (checked from its bytes)." };
        return Define("upload-image", "Replace a beat's storyboard image at a phase 2 checkpoint with your own image.", async (s, p, ct) =>
        {
            var c = await s.ResolveCheckpointAsync(p.GetValue(checkpoint)!, ct);
            await Operations.UploadImageAsync(s, c, p.GetValue(beat), p.GetValue(file)!.FullName, ct);
            return 0;
        }, checkpoint, beat, file);
    }

    private static Command RegenerateBeat()
    {
        var checkpoint = CheckpointArgument();
        var beat = BeatArgument();
        var prompt = new Option<string?>("--prompt") { Description = "Use this prompt for the beat instead of the spec's." };
        var seed = new Option<long?>("--seed") { Description = "Use this seed (default: the current seed + 1)." };
        return Define("regenerate-beat", "Regenerate one storyboard image at a phase 2 checkpoint, optionally with another prompt.", async (s, p, ct) =>
        {
            var c = await s.ResolveCheckpointAsync(p.GetValue(checkpoint)!, ct);
            await Operations.RegenerateBeatAsync(s, c, p.GetValue(beat), p.GetValue(prompt), p.GetValue(seed), ct);
            return 0;
        }, checkpoint, beat, prompt, seed);
    }

    private static Command RegenerateChunk()
    {
        var checkpoint = CheckpointArgument();
        var beat = BeatArgument();
        var model = new Option<string?>("--model") { Description = "The clip model: hailuo, kling, veo (or a configured model id)." };
        var seed = new Option<long?>("--seed") { Description = "Use this seed (default: the current seed + 1)." };
        return Define("regenerate-chunk", "Regenerate one clip at a phase 3 checkpoint, optionally with another model.", async (s, p, ct) =>
        {
            var c = await s.ResolveCheckpointAsync(p.GetValue(checkpoint)!, ct);
            await Operations.RegenerateChunkAsync(s, c, p.GetValue(beat), p.GetValue(model), p.GetValue(seed), ct);
            return 0;
        }, checkpoint, beat, model, seed);
    }

    private static Command Continue()
    {
        var checkpoint = CheckpointArgument();
        var description = new Option<string?>("--description") { Description = "A description of the edits, kept on the new checkpoint." };
        var toEnd = new Option<bool>("--to-end") { Description = "Keep continuing each new checkpoint until the run completes." };
        var queue = QueueOption();
        return Define("continue", "Approve a checkpoint and run the next phase (on a new branch when the checkpoint was edited).", async (s, p, ct) =>
        {
            var c = await s.ResolveCheckpointAsync(p.GetValue(checkpoint)!, ct);
            var queued = p.GetValue(queue) || s.Settings.Queue;
            if (queued && p.GetValue(toEnd))
            {
                throw new UsageException("--to-end waits for every phase, --queue leaves them to workers; give one of them.");
            }

            while (true)
            {
                var result = await Operations.ContinueAsync(s, c, p.GetValue(description), ct, queued);
                var run = await s.Queries.GetRunAsync(c.RunId, ct);
                var next = result.Checkpoint;
                if (!p.GetValue(toEnd) || next is null || next.Phase >= VideoPhases.Terminal || run.Status != RunStatus.Paused)
                {
                    return Operations.ReportOutcome(s, run, next);
                }

                c = next;
            }
        }, checkpoint, description, toEnd, queue);
    }

    private static Command Retry()
    {
        var run = RunArgument();
        return Define("retry", "Run again the phase that failed or was interrupted (a crash, Ctrl+C): finished units are kept; jobs still running at a crash are waited on, not paid again.", async (s, p, ct) =>
        {
            var r = await s.ResolveRunAsync(p.GetValue(run), ct);
            s.Ui.Line($"retrying {Views.Phase(r.CurrentPhase ?? 1)} of run {r.Id} on {r.CurrentBranch ?? "main"}");
            var result = await RunProgress.TrackAsync(s, r.Id, token => s.Runner.RetryAsync(r.Id, token), ct);
            return Operations.ReportOutcome(s, result.Run, result.Checkpoint);
        }, run);
    }

    private static Command HistoryCommand()
    {
        var checkpoint = CheckpointArgument();
        var key = new Argument<string?>("key") { Description = "Only this artifact, e.g. spec or beat_3. Default: every artifact.", Arity = ArgumentArity.ZeroOrOne };
        return Define("history", "Show every version of a checkpoint's artifacts: who, when, why, and what.", async (s, p, ct) =>
        {
            var c = await s.ResolveCheckpointAsync(p.GetValue(checkpoint)!, ct);
            var artifacts = (await s.Queries.GetCheckpointAsync(c.Id, ct)).Artifacts.Select(a => a.Artifact).ToList();
            if (p.GetValue(key) is { } only)
            {
                var all = artifacts;
                artifacts = artifacts.Where(a => a.Key == only).ToList();
                if (artifacts.Count == 0)
                {
                    throw new UsageException($"Checkpoint {c.Id} holds no artifact '{only}'; it holds {string.Join(", ", all.Select(a => a.Key))}.");
                }
            }

            foreach (var artifact in artifacts)
            {
                var versions = await s.Queries.GetArtifactHistoryAsync(c.Id, artifact.Type, artifact.Key, ct);
                s.Ui.Line($"{artifact.Type}/{artifact.Key} of checkpoint {c.Id}: {versions.Count} version{(versions.Count == 1 ? "" : "s")}, current v{artifact.Version}");
                s.Ui.Out.Write(Views.History(s.Ui, versions));
            }

            return 0;
        }, checkpoint, key);
    }

    private static Command Export()
    {
        var checkpoint = CheckpointArgument();
        var folder = new Argument<DirectoryInfo>("folder") { Description = "Where to write the files (created when missing)." };
        return Define("export", "Write a checkpoint's artifacts to a folder (spec.json, beat_1.png, chunk_1.mp4/.apng, final...).", async (s, p, ct) =>
        {
            var c = await s.ResolveCheckpointAsync(p.GetValue(checkpoint)!, ct);
            var files = await Operations.ExportAsync(s, c, p.GetValue(folder)!.FullName, ct);
            s.Ui.Line($"exported {files.Count} artifacts of checkpoint {c.Id}");
            return 0;
        }, checkpoint, folder);
    }
}
