using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Checkpointing.Postgres.Tests;

/// <summary>
/// Counts the round trips Npgsql makes for one action: its spans (a command, a batch, a physical connection opened)
/// and its transaction commits and rollbacks, each the child of a span the counter starts around the action, so the
/// round trips of other tests running at the same time are not counted. It is the data source's logger factory.
/// </summary>
internal sealed class RoundTripCounter : ILoggerFactory
{
    private const string SourceName = "Checkpointing.Postgres.Tests.RoundTrips";
    private const int StartingTransaction = 30000; // Npgsql's event: BEGIN is sent with the next command, not on its own
    private static readonly ActivitySource Source = new(SourceName);
    private readonly ActivityListener _listener;
    private readonly ConcurrentQueue<ActivityTraceId> _trips = new();
    private readonly ConcurrentQueue<(ActivityTraceId Trace, string Text)> _statements = new();

    public RoundTripCounter()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is "Npgsql" or SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = a =>
            {
                if (a.Source.Name == "Npgsql")
                {
                    _trips.Enqueue(a.TraceId);
                    _statements.Enqueue((a.TraceId, (a.GetTagItem("db.query.text") ?? a.GetTagItem("db.statement"))?.ToString() ?? a.DisplayName));
                }
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public async Task<int> CountAsync(Func<Task> action)
    {
        ActivityTraceId trace;
        using (var around = Source.StartActivity("counted"))
        {
            trace = around!.TraceId;
            await action();
        }

        LastStatements = [.. _statements.Where(s => s.Trace == trace).Select(s => s.Text)];
        return _trips.Count(t => t == trace);
    }

    /// <summary>The text of every command (or span) the last counted action sent.</summary>
    public IReadOnlyList<string> LastStatements { get; private set; } = [];

    public ILogger CreateLogger(string categoryName) =>
        categoryName == "Npgsql.Transaction" ? new TransactionLogger(this) : Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

    public void Dispose() => _listener.Dispose();

    private sealed class TransactionLogger(RoundTripCounter owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id != StartingTransaction && Activity.Current is { } current)
            {
                owner._trips.Enqueue(current.TraceId);
            }
        }
    }
}
