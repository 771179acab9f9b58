namespace Checkpointing;

/// <summary>Where a page of <see cref="ICheckpointStore.ListRunsAsync(string?, int, RunCursor?, CancellationToken)"/> ended: its last run.</summary>
/// <param name="CreatedAt">The last run's creation time, as stored.</param>
/// <param name="Id">The last run's id.</param>
public sealed record RunCursor(DateTimeOffset CreatedAt, Guid Id)
{
    /// <summary>The cursor after <paramref name="run"/>.</summary>
    /// <param name="run">The last run of a page.</param>
    public static RunCursor After(Run run)
    {
        ArgumentNullException.ThrowIfNull(run);
        return new RunCursor(run.CreatedAt, run.Id);
    }
}
