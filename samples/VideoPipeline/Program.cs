// The video pipeline sample: a console host for the Checkpointing SDK.
//
// 1. Hosting/AppHost.cs builds the generic host: configuration (appsettings.json, environment variables, --data),
//    logging to stderr, and services.AddCheckpointing(...) with the four phases (Phases/), the SQLite store and the
//    file blob store under the data folder, and the generation backend named by Checkpointing:Backend (the offline
//    Studio/ backend by default).
// 2. Cli/Commands.cs maps each command to one SDK call (runner, editor, queries); Cli/Demo.cs walks the whole flow.
// 3. Parse errors and SDK errors end the process with one line on stderr and a non-zero exit code.
using System.CommandLine;
using System.Runtime.InteropServices;
using VideoPipeline.Cli;

var root = Commands.Build();
var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    // One line instead of the full help text; --help shows the usage.
    Ui.Error($"{string.Join(" ", parse.Errors.Select(e => e.Message))} (see --help)");
    return 2;
}

// The first Ctrl+C (or SIGTERM) cancels the command's token: the SDK records the interrupted phase, which 'retry'
// resumes. A second one ends the process at once.
using var interrupt = new CancellationTokenSource();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }, interrupt.Token);

void Stop(PosixSignalContext signal)
{
    if (!interrupt.IsCancellationRequested)
    {
        signal.Cancel = true;
        interrupt.Cancel();
    }
}
