// Usage: Checkpointing.Sqlite.Worker <database> <runId> <checkpointId> <forks> <edits>
// Opens the database as a second process would, then concurrently forks branch "main" <forks> times and edits the
// checkpoint's spec/spec artifact <edits> times (retrying on version conflicts). Prints one line per created branch
// ("branch main-7") and per edit ("edit 12"); exits 0 when every call succeeded.
using System.Globalization;
using System.Text.Json;
using Checkpointing;
using Checkpointing.Sqlite;

if (args.Length != 5)
{
    Console.Error.WriteLine("usage: <database> <runId> <checkpointId> <forks> <edits>");
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
            var updated = await store.UpdateArtifactAsync(new ArtifactUpdate(checkpointId, "spec", "spec", current.Version,
                ArtifactContent.FromJson(document.RootElement), ArtifactMetadata.Empty, "worker", "edit", 0.01m, null, DateTimeOffset.UtcNow));
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
