using Checkpointing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using VideoPipeline.Hosting;
using VideoPipeline.Phases;

namespace VideoPipeline.Cli;

/// <summary>One command's view of the SDK: the host, the runner, editor and queries, and id resolution.</summary>
public sealed class Session : IDisposable
{
    private readonly IHost _host;

    private Session(IHost host, Ui ui)
    {
        _host = host;
        Ui = ui;
        Runner = host.Services.GetRequiredService<CheckpointRunner>();
        Editor = host.Services.GetRequiredService<CheckpointEditor>();
        Queries = host.Services.GetRequiredService<CheckpointQueries>();
        Data = host.Services.GetRequiredService<DataFolder>();
        Options = host.Services.GetRequiredService<IOptions<VideoPipelineOptions>>().Value;
        Settings = host.Services.GetRequiredService<HostSettings>();
    }

    /// <summary>The host's settings (store, backend, lease duration, queue by default).</summary>
    public HostSettings Settings { get; }

    public Ui Ui { get; }

    public CheckpointRunner Runner { get; }

    public CheckpointEditor Editor { get; }

    public CheckpointQueries Queries { get; }

    public DataFolder Data { get; }

    public VideoPipelineOptions Options { get; }

    /// <summary>Who edits and continues: the OS user.</summary>
    public static string User => Environment.UserName is { Length: > 0 } name ? name : "cli";

    public static Session Open(string? data, Ui ui)
    {
        var host = AppHost.Build(data);
        try
        {
            AppHost.Validate(host.Services);
            return new Session(host, ui);
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    /// <summary>A run by id or unique id prefix; the latest run when <paramref name="text"/> is empty.</summary>
    public async Task<Run> ResolveRunAsync(string? text, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            var latest = await Queries.ListRunsAsync(null, 1, ct);
            return latest.Count > 0 ? latest[0] : throw new UsageException($"There are no runs in {Data.Path} yet; start one with 'run --prompt \"...\"'.");
        }

        if (Guid.TryParse(text, out var id))
        {
            return await Queries.GetRunAsync(id, ct);
        }

        var prefix = Prefix(text, "run");
        var matches = (await Queries.ListRunsAsync(null, int.MaxValue, ct)).Where(r => r.Id.ToString().StartsWith(prefix, StringComparison.Ordinal)).ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new UsageException($"No run id starts with '{text}'. List runs with 'runs'."),
            _ => throw new UsageException($"'{text}' matches {matches.Count} runs; give more characters of the id."),
        };
    }

    /// <summary>A checkpoint by id or unique id prefix.</summary>
    public async Task<Checkpoint> ResolveCheckpointAsync(string text, CancellationToken ct)
    {
        if (Guid.TryParse(text, out var id))
        {
            return (await Queries.GetCheckpointAsync(id, ct)).Checkpoint;
        }

        var prefix = Prefix(text, "checkpoint");
        var matches = new List<Checkpoint>();
        foreach (var run in await Queries.ListRunsAsync(null, int.MaxValue, ct))
        {
            matches.AddRange((await Queries.ListCheckpointsAsync(run.Id, null, ct)).Where(c => c.Id.ToString().StartsWith(prefix, StringComparison.Ordinal)));
        }

        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new UsageException($"No checkpoint id starts with '{text}'. List them with 'checkpoints'."),
            _ => throw new UsageException($"'{text}' matches {matches.Count} checkpoints; give more characters of the id."),
        };
    }

    private static string Prefix(string text, string what)
    {
        var prefix = text.Trim().ToLowerInvariant();
        if (prefix.Length < 4 || prefix.Any(c => !char.IsAsciiHexDigit(c) && c != '-'))
        {
            throw new UsageException($"'{text}' is not a {what} id: give the id or at least its first 4 characters.");
        }

        return prefix;
    }

    public void Dispose() => _host.Dispose();
}
