using Microsoft.Extensions.Logging;

namespace Checkpointing.Internal;

/// <summary>
/// The lease an executor holds on a run while it executes phases: its fencing token, a heartbeat that renews it, and
/// what to do when it is lost (stop; cancel the run's jobs only when the run was cancelled).
/// </summary>
internal sealed class ExecutionLease : IAsyncDisposable
{
    private readonly SdkServices _sdk;
    private readonly CancellationTokenSource _lost = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _heartbeat;
    private int _marked;
    private volatile bool _cancelJobs;

    public ExecutionLease(SdkServices sdk, Guid runId, long token, string owner)
    {
        _sdk = sdk;
        RunId = runId;
        Token = token;
        Owner = owner;
    }

    public Guid RunId { get; }

    public long Token { get; }

    public string Owner { get; }

    /// <summary>Cancelled when the lease is lost (taken over, or the run was changed outside the lease).</summary>
    public CancellationToken Lost => _lost.Token;

    public bool IsLost => _lost.IsCancellationRequested;

    /// <summary>Whether stopping should cancel the backend jobs in flight (only for an explicit cancellation of the run).</summary>
    public bool CancelJobs => _cancelJobs;

    public void StartHeartbeat() => _heartbeat ??= HeartbeatAsync(_stop.Token);

    /// <summary>Marks the run cancelled by this process: jobs in flight are cancelled, then the execution stops.</summary>
    public void CancelRun()
    {
        _cancelJobs = true;
        Interlocked.Exchange(ref _marked, 1);
        _lost.Cancel();
    }

    /// <summary>
    /// Called when a fenced write or renewal was refused: reads whether the run was cancelled (then jobs are cancelled)
    /// or taken over (then they are left to the new owner), and stops the execution.
    /// </summary>
    public async Task MarkLostAsync()
    {
        if (Interlocked.Exchange(ref _marked, 1) == 1)
        {
            return;
        }

        try
        {
            var run = await _sdk.Store.GetRunAsync(RunId, CancellationToken.None).ConfigureAwait(false);
            _cancelJobs = run?.Status == RunStatus.Cancelled;
            _sdk.Log.LeaseLost(RunId, Token, run?.LeaseToken ?? 0, run?.Status.ToString() ?? "missing");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _sdk.Log.LeaseCheckFailed(e, RunId);
        }

        await _lost.CancelAsync().ConfigureAwait(false);
    }

    /// <summary>Ends the lease now (the run stays as it is: interrupted when it was running).</summary>
    public async Task ReleaseAsync()
    {
        if (IsLost)
        {
            return;
        }

        try
        {
            await _sdk.Store.ReleaseLeaseAsync(RunId, Token, _sdk.Now, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The lease then simply expires.
            _sdk.Log.LeaseReleaseFailed(e, RunId);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_heartbeat is not null)
        {
            await _heartbeat.ConfigureAwait(false);
        }

        _stop.Dispose();
        _lost.Dispose();
    }

    private async Task HeartbeatAsync(CancellationToken stop)
    {
        var duration = _sdk.Options.LeaseDuration;
        var interval = duration / 3;
        while (!stop.IsCancellationRequested && !IsLost)
        {
            try
            {
                await Task.Delay(interval, _sdk.Time, stop).ConfigureAwait(false);
                await _sdk.Store.RenewLeaseAsync(RunId, Token, _sdk.Now + duration, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (LeaseLostException)
            {
                await MarkLostAsync().ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A store hiccup: try again at the next beat; fenced writes protect the run if the lease lapses meanwhile.
                _sdk.Log.LeaseRenewFailed(e, RunId);
            }
        }
    }
}
