// Usage: Checkpointing.Sqlite.Worker <database> <runId> <checkpointId> <forks> <edits>
// Opens the database as a second process would, then concurrently forks branch "main" <forks> times and edits the
// checkpoint's spec/spec artifact <edits> times (retrying on version conflicts). Prints one line per created branch
// ("branch main-7") and per edit ("edit 12"); exits 0 when every call succeeded.
//
// Usage: Checkpointing.Sqlite.Worker claim <database> <owner> <go-file>
// Opens the database, prints "ready", waits until <go-file> exists (so that several processes start claiming at the
// same moment), then claims runs with work one after another (ClaimNextRunAsync, a one-hour lease, 5 ms apart) until
// none is left. Prints one line per claimed run ("claimed <runId> <token>"); exits 0.
using System.Globalization;
using System.Text.Json;
using Checkpointing;
using Checkpointing.Sqlite;

if (args.Length == 4 && args[0] == "claim")
{
    return await ClaimAsync(args[1], args[2], args[3]);
}

if (args.Length != 5)
{
    Console.Error.WriteLine("usage: <database> <runId> <checkpointId> <forks> <edits>  |  claim <database> <owner> <go-file>");
    return 2;
}

var runId = Guid.Parse(args[1]);
var checkpointId = Guid.Parse(args[2]);
var forks = int.Parse(args[3], CultureInfo.InvariantCulture);
var edits = int.Parse(args[4], CultureInfo.InvariantCulture);
using var store = new SqliteCheckpointStore(new SqliteStoreOptions { DataSource = args[0] });
var output = new List<string>();

async Task ForkAsync()
{
    var branch = await store.CreateBranchAsync(runId, BranchNames.Main, checkpointId, DateTimeOffset.UtcNow);
    lock (output)
    {
        output.Add("branch " + branch.Name);
    }
}

async Task EditAsync(int i)
{
    using var document = JsonDocument.Parse($$"""{"process":{{Environment.ProcessId}},"edit":{{i}}}""");
    while (true)
    {
        var current = await store.GetArtifactAsync(checkpointId, "spec", "spec") ?? throw new InvalidOperationException("spec/spec is missing");
        try
        {
            var updated = await store.UpdateArtifactAsync(new ArtifactUpdate
            {
                CheckpointId = checkpointId,
                Type = "spec",
                Key = "spec",
                ExpectedVersion = current.Version,
                Content = ArtifactContent.FromJson(document.RootElement),
                Metadata = ArtifactMetadata.Empty,
                UpdatedBy = "worker",
                Reason = "edit",
                CostDelta = 0.01m,
                At = DateTimeOffset.UtcNow,
            });
            lock (output)
            {
                output.Add("edit " + updated.Version.ToString(CultureInfo.InvariantCulture));
            }

            return;
        }
        catch (ConcurrencyConflictException)
        {
            // Another writer got there first: read the new version and try again.
        }
    }
}

await Task.WhenAll(Enumerable.Range(0, forks).Select(_ => Task.Run(ForkAsync))
    .Concat(Enumerable.Range(0, edits).Select(i => Task.Run(() => EditAsync(i)))));
foreach (var line in output)
{
    Console.WriteLine(line);
}

return 0;

static async Task<int> ClaimAsync(string database, string owner, string goFile)
{
    using var store = new SqliteCheckpointStore(new SqliteStoreOptions { DataSource = database });
    await store.MigrateAsync();
    Console.WriteLine("ready");
    Console.Out.Flush();
    while (!File.Exists(goFile))
    {
        await Task.Delay(10);
    }

    var claimed = new List<string>();
    while (true)
    {
        var now = DateTimeOffset.UtcNow;
        if (await store.ClaimNextRunAsync(owner, now, now.AddHours(1)) is not { } run)
        {
            break;
        }

        claimed.Add(string.Create(CultureInfo.InvariantCulture, $"claimed {run.Id} {run.LeaseToken}"));

        // A moment of "work" per run, so the processes' claims interleave instead of one draining the queue alone.
        await Task.Delay(5);
    }

    foreach (var line in claimed)
    {
        Console.WriteLine(line);
    }

    return 0;
}
