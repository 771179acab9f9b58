using System.Security.Cryptography;
using System.Text;

namespace Checkpointing.Postgres;

public sealed partial class PostgresCheckpointStore : ICheckpointStoreNotifications
{
    /// <summary>The NOTIFY payload sent when an event is appended.</summary>
    internal const string EventNotification = "event";

    /// <summary>The NOTIFY payload sent when a run becomes claimable.</summary>
    internal const string WorkNotification = "work";

    private readonly Lock _listenerLock = new();
    private PostgresChangeListener? _listener;

    /// <summary>
    /// The channel every store on this schema notifies and listens on: <c>{schema}_changes</c>, or for a schema name too
    /// long for that (a channel name has at most 63 bytes) its first 38 characters, <c>_changes_</c> and a hash of the name.
    /// </summary>
    internal string NotificationChannel { get; private init; } = "";

    /// <summary>
    /// Waits until an event is appended or a run becomes claimable, in this or any other process on the database, or
    /// until <paramref name="timeout"/> passes. Returns early (without a change) when the listening connection was (re)opened,
    /// since a change may have been missed while it was not listening; callers read the store afterwards.
    /// </summary>
    /// <param name="timeout">The longest wait.</param>
    /// <param name="cancellationToken">Ends the wait.</param>
    /// <returns>A task that completes on a change, on the timeout, or when the listener (re)connects.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <remarks>
    /// The store listens on one dedicated connection from its data source (<c>LISTEN</c> on <see cref="NotificationChannel"/>),
    /// opened by the first wait and shared by every waiter of the store; when it fails, it is opened again after a short,
    /// growing delay (waiters then fall back to their timeout). Writers send <c>NOTIFY</c> in the transaction of the change:
    /// appending an event, creating a run queued, setting a run queued or running without a lease (a queued continuation,
    /// a state change outside the lease), and releasing the lease of a queued or running run.
    /// </remarks>
    public async Task WaitForChangeAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        PostgresChangeListener listener;
        lock (_listenerLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            listener = _listener ??= new PostgresChangeListener(_dataSource, NotificationChannel, _logger, _time);
        }

        await listener.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The channel name for a schema (see <see cref="NotificationChannel"/>).</summary>
    internal static string ChannelFor(string schema)
    {
        const string Suffix = "_changes";
        if (schema.Length + Suffix.Length <= 63)
        {
            return schema + Suffix;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(schema)))[..16];
        return schema[..38] + Suffix + "_" + hash;
    }

    /// <summary>Sends a notification on the store's channel; PostgreSQL delivers it when the transaction commits.</summary>
    private Task<int> NotifyAsync(Db db, string payload) =>
        ExecuteAsync(db, "SELECT pg_notify(@channel, @payload);", ("channel", NotificationChannel), ("payload", payload));

    /// <summary>Notifies waiting workers when <paramref name="run"/> (as written) has work that nobody holds.</summary>
    private Task NotifyIfClaimableAsync(Db db, Run run) =>
        run.Status is RunStatus.Queued or RunStatus.Running && run.LeaseOwner is null ? NotifyAsync(db, WorkNotification) : Task.CompletedTask;

    private void DisposeListener()
    {
        PostgresChangeListener? listener;
        lock (_listenerLock)
        {
            listener = _listener;
            _listener = null;
        }

        listener?.Dispose();
    }

    private async ValueTask DisposeListenerAsync()
    {
        PostgresChangeListener? listener;
        lock (_listenerLock)
        {
            listener = _listener;
            _listener = null;
        }

        if (listener is not null)
        {
            await listener.DisposeAsync().ConfigureAwait(false);
        }
    }
}
