namespace Checkpointing.Relational;

/// <summary>
/// One migration step of a dialect: a transaction that holds the dialect's migration lock, in which the version table
/// exists. The dialect supplies the SQL; <see cref="Migrator"/> supplies the order and the bookkeeping.
/// </summary>
internal interface IMigrationStep : IAsyncDisposable
{
    /// <summary>Reads the highest recorded schema version (0 when none), under the step's lock.</summary>
    /// <param name="cancellationToken">Cancels the command.</param>
    /// <returns>The recorded version.</returns>
    Task<int> ReadVersionAsync(CancellationToken cancellationToken);

    /// <summary>Runs the migration's statements and records its version.</summary>
    /// <param name="migration">The migration to apply.</param>
    /// <param name="appliedAt">When it is applied, as recorded in the version table.</param>
    /// <param name="cancellationToken">Cancels the commands.</param>
    /// <returns>A task that completes when the statements ran.</returns>
    Task ApplyAsync(Migration migration, DateTimeOffset appliedAt, CancellationToken cancellationToken);

    /// <summary>Commits the step's transaction.</summary>
    /// <param name="cancellationToken">Cancels the commit.</param>
    /// <returns>A task that completes when the transaction is committed.</returns>
    Task CommitAsync(CancellationToken cancellationToken);
}

/// <summary>What a migration run reports, to the store's own log messages.</summary>
/// <param name="Applied">A migration was applied.</param>
/// <param name="UpToDate">Nothing was applied; the argument is the recorded version.</param>
/// <param name="Newer">The database is at a version (first argument) above the highest this package knows (second).</param>
internal sealed record MigrationLog(Action<Migration> Applied, Action<int> UpToDate, Action<int, int> Newer);

/// <summary>
/// Applies numbered migrations in order, each in its own step (transaction) that first takes the dialect's migration
/// lock and re-reads the recorded version: several processes starting at once apply each script exactly once (the
/// others wait for the lock, then find it recorded). Shared by the relational stores; the SQL stays per dialect.
/// </summary>
internal static class Migrator
{
    /// <summary>Applies every migration not yet recorded.</summary>
    /// <param name="migrations">The dialect's migrations, numbered from 1.</param>
    /// <param name="beginStep">Begins one step: opens its transaction, takes the lock, creates the version table if missing.</param>
    /// <param name="now">The time recorded for applied migrations.</param>
    /// <param name="log">Where the outcome is reported.</param>
    /// <param name="cancellationToken">Cancels the run between and inside steps.</param>
    /// <returns>The number of migrations this call applied.</returns>
    internal static async Task<int> MigrateAsync(
        IReadOnlyList<Migration> migrations,
        Func<CancellationToken, Task<IMigrationStep>> beginStep,
        DateTimeOffset now,
        MigrationLog log,
        CancellationToken cancellationToken)
    {
        var latest = LatestVersion(migrations);
        var applied = 0;
        var current = 0;
        foreach (var migration in migrations)
        {
            var step = await beginStep(cancellationToken).ConfigureAwait(false);
            await using (step.ConfigureAwait(false))
            {
                current = await step.ReadVersionAsync(cancellationToken).ConfigureAwait(false);
                if (current >= migration.Version)
                {
                    await step.CommitAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }

                await step.ApplyAsync(migration, now, cancellationToken).ConfigureAwait(false);
                await step.CommitAsync(cancellationToken).ConfigureAwait(false);
            }

            current = migration.Version;
            applied++;
            log.Applied(migration);
        }

        if (current > latest)
        {
            log.Newer(current, latest);
        }
        else if (applied == 0)
        {
            log.UpToDate(current);
        }

        return applied;
    }

    /// <summary>The highest version of <paramref name="migrations"/>, 0 when there are none.</summary>
    /// <param name="migrations">Migrations in version order.</param>
    /// <returns>The latest version.</returns>
    internal static int LatestVersion(IReadOnlyList<Migration> migrations) => migrations.Count == 0 ? 0 : migrations[^1].Version;
}
