namespace Checkpointing.Conformance;

/// <summary>
/// The lifecycle every conformance suite shares: a fresh store per test from <see cref="CreateStoreAsync"/>, released
/// after the test by <see cref="DisposeStoreAsync"/>.
/// </summary>
/// <typeparam name="TStore">The store interface under test.</typeparam>
public abstract class StoreConformanceTests<TStore> : IAsyncLifetime
    where TStore : class
{
    private TStore? _store;

    /// <summary>The store under test, fresh for every test.</summary>
    protected TStore Store => _store ?? throw new InvalidOperationException("The store is created in InitializeAsync.");

    /// <summary>The test's cancellation token.</summary>
    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Creates a new, empty store.</summary>
    protected abstract Task<TStore> CreateStoreAsync();

    /// <summary>Releases a store created by <see cref="CreateStoreAsync"/>; disposes it when it is disposable.</summary>
    /// <param name="store">The store.</param>
    protected virtual async ValueTask DisposeStoreAsync(TStore store)
    {
        switch (store)
        {
            case IAsyncDisposable asyncDisposable:
                await asyncDisposable.DisposeAsync();
                break;
            case IDisposable disposable:
                disposable.Dispose();
                break;
        }
    }

    /// <inheritdoc />
    public virtual async ValueTask InitializeAsync() => _store = await CreateStoreAsync();

    /// <inheritdoc />
    public virtual async ValueTask DisposeAsync()
    {
        if (_store is not null)
        {
            await DisposeStoreAsync(_store);
        }

        GC.SuppressFinalize(this);
    }
}
