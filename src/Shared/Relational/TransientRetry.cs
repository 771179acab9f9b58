using Polly;
using Polly.Retry;

namespace Checkpointing.Relational;

/// <summary>
/// The retry policy of the relational stores, on Polly: a whole call (its transaction) runs again, with an exponential,
/// jittered delay, when it failed with an error the dialect classifies as transient (SQLite: busy or locked;
/// PostgreSQL: serialization failure, deadlock, a reset or refused connection). Any other error passes straight
/// through. When the retries are used up, the last error passes through for the store to report.
/// </summary>
internal sealed class TransientRetry
{
    private readonly ResiliencePipeline _pipeline;

    /// <summary>Builds the policy.</summary>
    /// <param name="maxRetries">How often a call runs again (0 for never).</param>
    /// <param name="baseDelay">The delay before the first retry; it doubles with every retry, with jitter.</param>
    /// <param name="maxDelay">The longest delay between two attempts.</param>
    /// <param name="isTransient">Whether an error may go away when the call runs again.</param>
    /// <param name="onRetry">Called before each retry with the operation, the error, the attempt that failed (from 1) and the delay.</param>
    internal TransientRetry(int maxRetries, TimeSpan baseDelay, TimeSpan maxDelay, Func<Exception, bool> isTransient, Action<string, Exception, int, TimeSpan> onRetry)
    {
        MaxAttempts = maxRetries + 1;
        _pipeline = maxRetries == 0
            ? ResiliencePipeline.Empty
            : new ResiliencePipelineBuilder()
                .AddRetry(new RetryStrategyOptions
                {
                    Name = "checkpointing-store",
                    MaxRetryAttempts = maxRetries,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    Delay = baseDelay,
                    MaxDelay = maxDelay,
                    ShouldHandle = new PredicateBuilder().Handle<Exception>(isTransient),
                    OnRetry = args =>
                    {
                        onRetry(args.Context.OperationKey ?? "call", args.Outcome.Exception!, args.AttemptNumber + 1, args.RetryDelay);
                        return default;
                    },
                })
                .Build();
    }

    /// <summary>How many times a call runs at most: the first attempt and every retry.</summary>
    internal int MaxAttempts { get; }

    /// <summary>Runs <paramref name="action"/>, again after each transient failure.</summary>
    /// <typeparam name="T">The call's result.</typeparam>
    /// <param name="operation">The store operation, for the log.</param>
    /// <param name="action">One attempt of the whole call: opens its connection and runs its transaction.</param>
    /// <param name="cancellationToken">Cancels the call, also while it waits to retry.</param>
    /// <returns>The result of the first attempt that succeeded.</returns>
    internal async Task<T> ExecuteAsync<T>(string operation, Func<CancellationToken, Task<T>> action, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(operation, cancellationToken);
        try
        {
            return await _pipeline.ExecuteAsync(
                static async (context, action) => await action(context.CancellationToken).ConfigureAwait(false),
                context,
                action).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }
}
