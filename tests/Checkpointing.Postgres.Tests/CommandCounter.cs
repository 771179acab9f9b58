using System.Collections.Concurrent;
using System.Diagnostics;

namespace Checkpointing.Postgres.Tests;

/// <summary>
/// Counts the commands Npgsql sends for one action (one span per command or batch sent, that is per round trip): its
/// spans are children of a span the counter starts around the action, so commands of other tests running at the same
/// time are not counted.
/// </summary>
internal sealed class CommandCounter : IDisposable
{
    private const string SourceName = "Checkpointing.Postgres.Tests.RoundTrips";
    private static readonly ActivitySource Source = new(SourceName);
    private readonly ActivityListener _listener;
    private readonly ConcurrentQueue<Activity> _commands = new();

    public CommandCounter()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is "Npgsql" or SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = a =>
            {
                if (a.Source.Name == "Npgsql")
                {
                    _commands.Enqueue(a);
                }
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>The text of every command the last counted action sent, in the order they finished.</summary>
    public IReadOnlyList<string> LastStatements { get; private set; } = [];

    public async Task<int> CountAsync(Func<Task> action)
    {
        ActivityTraceId trace;
        using (var around = Source.StartActivity("counted"))
        {
            trace = around!.TraceId;
            await action();
        }

        var sent = _commands.Where(a => a.TraceId == trace).ToList();
        LastStatements = [.. sent.Select(a => (a.GetTagItem("db.query.text") ?? a.GetTagItem("db.statement"))?.ToString() ?? a.DisplayName)];
        return sent.Count;
    }

    public void Dispose() => _listener.Dispose();
}
