using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Checkpointing.Providers.Replicate.Tests;

/// <summary>One captured log entry, with everything a logger could leak: message, state values, scopes and exception.</summary>
public sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, string State, Exception? Exception)
{
    /// <summary>All captured text of the entry.</summary>
    public string AllText => $"{Category} {Level} {EventId} {Message} {State} {Exception}";
}

/// <summary>Captures every log entry of every category at every level.</summary>
public sealed class ListLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();
    private IExternalScopeProvider? _scopes;

    /// <summary>The entries so far.</summary>
    public IReadOnlyList<LogEntry> Entries => _entries.ToArray();

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => new ListLogger(this, categoryName);

    /// <inheritdoc />
    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    /// <inheritdoc />
    public void Dispose() { }

    private sealed class ListLogger(ListLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => owner._scopes?.Push(state);

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var text = new System.Text.StringBuilder();
            if (state is IEnumerable<KeyValuePair<string, object?>> values)
            {
                foreach (var (key, value) in values)
                {
                    text.Append(key).Append('=').Append(value).Append(';');
                }
            }

            owner._scopes?.ForEachScope((scope, sb) => sb.Append(" scope:").Append(scope), text);
            owner._entries.Enqueue(new LogEntry(category, logLevel, eventId, formatter(state, exception), text.ToString(), exception));
        }
    }
}
