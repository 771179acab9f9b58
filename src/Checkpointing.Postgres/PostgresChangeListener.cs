using Microsoft.Extensions.Logging;
using Npgsql;

namespace Checkpointing.Postgres;

/// <summary>
/// One connection that <c>LISTEN</c>s on a store's channel and wakes every waiter when a notification arrives. Opened by
/// the first waiter, kept open, and opened again (after a growing delay) when it fails. Each (re)connection also wakes the
/// waiters, because notifications sent while nobody listened are lost.
/// </summary>
internal sealed class PostgresChangeListener : IAsyncDisposable, IDisposable
{
    /// <summary>How long the connection may stay silent before a ping checks that it is still alive.</summary>
    internal static readonly TimeSpan PingInterval = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _channel;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private TaskCompletionSource _changed = NewSignal();

    internal PostgresChangeListener(NpgsqlDataSource dataSource, string channel, ILogger logger, TimeProvider time)
    {
        _dataSource = dataSource;
        _channel = channel;
        _logger = logger;
        _time = time;
        _loop = Task.Run(() => ListenAsync(_stop.Token));
    }

    /// <summary>Waits for the next notification (or reconnection), or until <paramref name="timeout"/> passes.</summary>
    internal async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await Volatile.Read(ref _changed).Task.WaitAsync(timeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Nothing arrived in time: the caller reads the store anyway.
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void Signal() => Interlocked.Exchange(ref _changed, NewSignal()).TrySetResult();

    private async Task ListenAsync(CancellationToken stop)
    {
        var delay = FirstRetryDelay;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var connection = await _dataSource.OpenConnectionAsync(stop).ConfigureAwait(false);
                await using (connection.ConfigureAwait(false))
                {
                    connection.Notification += (_, _) => Signal();
                    await using (var listen = new NpgsqlCommand($"LISTEN \"{_channel}\";", connection))
                    {
                        await listen.ExecuteNonQueryAsync(stop).ConfigureAwait(false);
                    }

                    _logger.ListenerConnected(_channel);
                    delay = FirstRetryDelay;
                    Signal();
                    while (true)
                    {
                        if (!await connection.WaitAsync(PingInterval, stop).ConfigureAwait(false))
                        {
                            // Silence: make sure the connection is alive (a dead one throws here and is replaced).
                            await using var ping = new NpgsqlCommand("SELECT 1;", connection);
                            await ping.ExecuteNonQueryAsync(stop).ConfigureAwait(false);
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (!stop.IsCancellationRequested)
            {
                // Any failure (a lost connection, a server restart, a full pool): listen again on a new connection.
                _logger.ListenerFailed(e, _channel, (int)delay.TotalMilliseconds);
                try
                {
                    await Task.Delay(delay, _time, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
            }
        }
    }

    /// <summary>Stops listening and closes the connection; waiters fall back to their timeouts.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopped while opening or waiting.
        }

        _stop.Dispose();
        Signal();
    }

    /// <summary>Stops listening and closes the connection, waiting for the listening loop to end.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _loop.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            // Stopped while opening or waiting.
        }

        _stop.Dispose();
        Signal();
    }
}
