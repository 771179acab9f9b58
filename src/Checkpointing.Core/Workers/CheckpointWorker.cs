using System.Collections.Concurrent;
using Checkpointing.Internal;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Checkpointing;

/// <summary>
/// A hosted service that executes queued runs, and takes over interrupted ones once their lease has expired: it claims
/// runs from the store (never one another executor holds), executes up to
/// <see cref="CheckpointWorkerOptions.MaxConcurrency"/> at once and renews their leases while they run. Several workers,
/// in any number of processes on one store, share the work; each phase executes once. Add it with
/// <see cref="Microsoft.Extensions.DependencyInjection.CheckpointingServiceCollectionExtensions.AddCheckpointingWorker"/>.
/// </summary>
/// <remarks>
/// When the host stops, the worker stops claiming, stops waiting on the runs it executes and releases their leases. The
/// backend jobs in flight are left running and recorded (not cancelled), so the next owner re-attaches to them and
/// nothing is paid twice.
/// </remarks>
public sealed class CheckpointWorker : BackgroundService
{
    private readonly RunExecutor _executor;
    private readonly CheckpointWorkerOptions _options;
    private readonly ConcurrentDictionary<Guid, Task> _running = new();

    internal CheckpointWorker(RunExecutor executor, IOptions<CheckpointWorkerOptions> options)
    {
        _executor = executor;
        _options = options.Value;
    }

    /// <summary>The name this worker claims runs under (<see cref="Run.LeaseOwner"/>).</summary>
    public string Owner => _executor.Owner;

    /// <summary>How many runs this worker is executing now.</summary>
    public int Executing => _running.Count;

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var sdk = _executor.Sdk;
        using var slots = new SemaphoreSlim(_options.MaxConcurrency, _options.MaxConcurrency);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await slots.WaitAsync(stoppingToken).ConfigureAwait(false);
                Run? run;
                try
                {
                    var now = sdk.Now;
                    run = await sdk.Store.ClaimNextRunAsync(Owner, now, now + sdk.Options.LeaseDuration, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
                {
                    slots.Release();
                    sdk.Log.WorkerClaimFailed(e, Owner);
                    await IdleAsync(stoppingToken).ConfigureAwait(false);
                    continue;
                }
                catch
                {
                    slots.Release();
                    throw;
                }

                if (run is null)
                {
                    slots.Release();
                    await IdleAsync(stoppingToken).ConfigureAwait(false);
                    continue;
                }

                sdk.Log.RunClaimed(Owner, run.Id, run.CurrentPhase ?? 1, run.Status);
                var claimed = run;
                _running[run.Id] = Task.Run(
                    async () =>
                    {
                        try
                        {
                            await _executor.ExecuteClaimedAsync(_executor.LeaseOf(claimed), claimed, stoppingToken).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                        {
                            // Host stop: the run is interrupted and its lease released; the next owner resumes it.
                        }
                        catch (Exception e) when (e is not OutOfMemoryException)
                        {
                            sdk.Log.WorkerExecutionFailed(e, Owner, claimed.Id);
                        }
                        finally
                        {
                            _running.TryRemove(claimed.Id, out _);
                            slots.Release();
                        }
                    },
                    CancellationToken.None);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
        finally
        {
            await Task.WhenAll(_running.Values).ConfigureAwait(false);
        }
    }

    private async Task IdleAsync(CancellationToken stoppingToken)
    {
        if (_executor.Sdk.Store is ICheckpointStoreNotifications notifications)
        {
            await notifications.WaitForChangeAsync(_options.PollInterval, stoppingToken).ConfigureAwait(false);
        }
        else
        {
            await Task.Delay(_options.PollInterval, _executor.Sdk.Time, stoppingToken).ConfigureAwait(false);
        }
    }
}

/// <summary>Options of <see cref="CheckpointWorker"/>.</summary>
public sealed class CheckpointWorkerOptions
{
    /// <summary>How many runs the worker executes at once.</summary>
    /// <value>Default: 4. Must be between 1 and 256.</value>
    public int MaxConcurrency { get; set; } = 4;

    /// <summary>
    /// How long an idle worker waits before looking for work again. Stores that notify other processes (PostgreSQL)
    /// wake it earlier when work is queued.
    /// </summary>
    /// <value>Default: 1 second. Must be between 10 milliseconds and 5 minutes.</value>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);
}

internal sealed class CheckpointWorkerOptionsValidator : IValidateOptions<CheckpointWorkerOptions>
{
    public ValidateOptionsResult Validate(string? name, CheckpointWorkerOptions options)
    {
        var errors = new List<string>();
        if (options.MaxConcurrency is < 1 or > 256)
        {
            errors.Add($"CheckpointWorkerOptions.MaxConcurrency is {options.MaxConcurrency}; set it between 1 and 256.");
        }

        if (options.PollInterval < TimeSpan.FromMilliseconds(10) || options.PollInterval > TimeSpan.FromMinutes(5))
        {
            errors.Add($"CheckpointWorkerOptions.PollInterval is {options.PollInterval}; set it between 00:00:00.010 and 00:05:00.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
