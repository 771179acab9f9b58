using System.Collections.Concurrent;
using System.Diagnostics;

namespace Checkpointing.Postgres.Tests;

/// <summary>
/// Counts the round trips Npgsql makes for one action: one per command or batch sent, seen as Npgsql's spans that are
/// children of a span the counter starts around the action (so commands of other tests running at the same time are not
/// counted), plus, when the data source logs to <c>transactionLog</c>, one per COMMIT or ROLLBACK, which Npgsql sends
/// without a span (a BEGIN goes out with the transaction's first command).
/// </summary>
internal sealed class CommandCounter : IDisposable
{
    private const string SourceName = "Checkpointing.Postgres.Tests.RoundTrips";
    private static readonly ActivitySource Source = new(SourceName);
    private readonly ActivityListener _listener;
    private readonly ConcurrentQueue<Activity> _commands = new();
    private readonly ListLoggerFactory? _transactionLog;

    /// <param name="transactionLog">The logger factory of the data source the action uses, or null to count commands only.</param>
    public CommandCounter(ListLoggerFactory? transactionLog = null)
    {
        _transactionLog = transactionLog;
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

    public async Task<int> CountAsync(Func<Task> action)
    {
        ActivityTraceId trace;
        var endsBefore = TransactionEnds();
        using (var around = Source.StartActivity("counted"))
        {
            trace = around!.TraceId;
            await action();
        }

        return _commands.Count(a => a.TraceId == trace) + TransactionEnds() - endsBefore;
    }

    public void Dispose() => _listener.Dispose();

    private int TransactionEnds() =>
        _transactionLog?.Entries.Count(e => e.Id.Name is "CommittedTransaction" or "RolledBackTransaction") ?? 0;
}
