using Checkpointing.Relational;
using Npgsql;

namespace Checkpointing.Postgres;

public sealed partial class PostgresCheckpointStore
{
    /// <summary>
    /// The columns of a run's checkpoints as <see cref="ReadRunCheckpointsAsync"/> reads them: those of
    /// <see cref="CheckpointColumns"/> but <c>run_id</c> (the run asked for), then <c>seq</c>.
    /// </summary>
    /// <remarks>
    /// Read without ORDER BY, in the order the server finds them (for a run read through its index, mostly the order
    /// of the table, which is the order of commits): sorting the whole rows in the server costs more than putting them
    /// in creation order afterwards, which is one pass when they came in that order.
    /// </remarks>
    private const string RunCheckpointColumns =
        "id, branch, phase, version, parent_id, status, approved_at, created_at, output, cost, created_by, edit_description, parent_revision, revision, seq";

    /// <summary>
    /// Reads a run's checkpoints (the current result set, <see cref="RunCheckpointColumns"/>) in creation order, as
    /// <see cref="MapCheckpoint"/> maps them; the branch and author names that repeat from row to row are one string each.
    /// </summary>
    private static async Task<List<Checkpoint>> ReadRunCheckpointsAsync(NpgsqlDataReader r, Guid runId, CancellationToken cancellationToken)
    {
        var checkpoints = new CreationOrder();
        var (branch, createdBy) = ((string?)null, (string?)null);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            branch = Repeated(r.GetString(1), branch);
            createdBy = r.IsDBNull(10) ? null : Repeated(r.GetString(10), createdBy);
            checkpoints.Add(r.GetInt64(14), new Checkpoint
            {
                Id = r.GetGuid(0),
                RunId = runId,
                Branch = branch,
                Phase = r.GetInt32(2),
                Version = r.GetInt32(3),
                ParentId = Nullable<Guid>(r, 4),
                Status = Status(r.GetString(5)),
                ApprovedAt = Nullable<DateTimeOffset>(r, 6),
                CreatedAt = Time(r, 7),
                Output = r.IsDBNull(8) ? null : Element(r.GetString(8)),
                Cost = r.GetDecimal(9),
                CreatedBy = createdBy,
                EditDescription = NullableString(r, 11),
                ParentRevision = Nullable<long>(r, 12),
                Revision = r.GetInt64(13),
            });
        }

        // Rows updated since they were committed (or of several branches) may come later than their place.
        return checkpoints.ToList();
    }

    /// <summary><paramref name="previous"/> when it is the same text, so that names repeated row after row are kept once.</summary>
    private static string Repeated(string text, string? previous) => string.Equals(text, previous, StringComparison.Ordinal) ? previous! : text;

    private static CheckpointStatus Status(string text) => text switch
    {
        "Pending" => CheckpointStatus.Pending,
        "Approved" => CheckpointStatus.Approved,
        "Abandoned" => CheckpointStatus.Abandoned,
        _ => Enum.Parse<CheckpointStatus>(text),
    };
}
