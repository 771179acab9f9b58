using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Checkpointing.Relational;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Checkpointing.Sqlite;

public sealed partial class SqliteCheckpointStore
{
    /// <summary>
    /// The columns of a run's checkpoints as <see cref="ReadRunCheckpoints"/> reads them: those of
    /// <see cref="CheckpointColumns"/> but <c>run_id</c> (the run asked for), then <c>seq</c>.
    /// </summary>
    /// <remarks>
    /// Ordered by branch, then <c>seq</c>, which <c>ix_checkpoints_run_branch</c> gives as it is: no sort of the whole
    /// rows in SQLite. The rows are put in creation order afterwards, which costs one pass when the run has one branch.
    /// </remarks>
    private const string RunCheckpointsSql = """
        SELECT id, branch, phase, version, parent_id, status, approved_at, created_at, output, cost, created_by, edit_description,
            parent_revision, revision, seq
        FROM checkpoints WHERE run_id = ?1 ORDER BY branch, seq;
        """;

    /// <summary>
    /// Reads a run's checkpoints in creation order, as <see cref="MapCheckpoint"/> maps them, straight from the
    /// statement's column values: a run's status reads every checkpoint it has, so each row is parsed from its UTF-8
    /// text without a string per column, and the branch and author names that repeat from row to row are one string each.
    /// </summary>
    private static List<Checkpoint> ReadRunCheckpoints(SqliteConnection connection, Guid runId)
    {
        var db = connection.Handle!;
        Check(raw.sqlite3_prepare_v2(db, RunCheckpointsSql, out var statement), db);
        using (statement)
        {
            Check(raw.sqlite3_bind_text(statement, 1, runId.ToString("D")), db);
            var checkpoints = new CreationOrder();
            var (branch, createdBy) = ((string?)null, (string?)null);
            int rc;
            while ((rc = raw.sqlite3_step(statement)) == raw.SQLITE_ROW)
            {
                branch = Repeated(Text(statement, 1), branch);
                createdBy = IsNull(statement, 10) ? null : Repeated(Text(statement, 10), createdBy);
                checkpoints.Add(raw.sqlite3_column_int64(statement, 14), new Checkpoint
                {
                    Id = Guid.Parse(Text(statement, 0)),
                    RunId = runId,
                    Branch = branch,
                    Phase = raw.sqlite3_column_int(statement, 2),
                    Version = raw.sqlite3_column_int(statement, 3),
                    ParentId = IsNull(statement, 4) ? null : Guid.Parse(Text(statement, 4)),
                    Status = Utf8Status(Text(statement, 5)),
                    ApprovedAt = IsNull(statement, 6) ? null : SqliteValues.ParseTime(Text(statement, 6)),
                    CreatedAt = SqliteValues.ParseTime(Text(statement, 7)),
                    Output = IsNull(statement, 8) ? null : SqliteValues.ParseElement(Text(statement, 8)),
                    Cost = SqliteValues.ParseMoney(Text(statement, 9)),
                    CreatedBy = createdBy,
                    EditDescription = IsNull(statement, 11) ? null : Encoding.UTF8.GetString(Text(statement, 11)),
                    ParentRevision = IsNull(statement, 12) ? null : raw.sqlite3_column_int64(statement, 12),
                    Revision = raw.sqlite3_column_int64(statement, 13),
                });
            }

            if (rc != raw.SQLITE_DONE)
            {
                Check(rc, db);
            }

            // Several branches: each came in creation order, so the merge is a sort by seq.
            return checkpoints.ToList();
        }
    }

    private static void Check(int rc, sqlite3 db)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, db);
        }
    }

    /// <summary>A text column's UTF-8 bytes (converted by SQLite when the database holds UTF-16), valid until the next step.</summary>
    private static ReadOnlySpan<byte> Text(sqlite3_stmt statement, int column)
    {
        var text = raw.sqlite3_column_text(statement, column);
        return MemoryMarshal.CreateReadOnlySpan(ref Unsafe.AsRef(in text.GetPinnableReference()), raw.sqlite3_column_bytes(statement, column));
    }

    private static bool IsNull(sqlite3_stmt statement, int column) => raw.sqlite3_column_type(statement, column) == raw.SQLITE_NULL;

    /// <summary>The text as a string: <paramref name="previous"/> when it is the same text (the common case of names that repeat).</summary>
    private static string Repeated(ReadOnlySpan<byte> utf8, string? previous) =>
        previous is not null && Ascii.Equals(utf8, previous) ? previous : Encoding.UTF8.GetString(utf8);

    private static CheckpointStatus Utf8Status(ReadOnlySpan<byte> utf8) =>
        utf8.SequenceEqual("Pending"u8) ? CheckpointStatus.Pending
        : utf8.SequenceEqual("Approved"u8) ? CheckpointStatus.Approved
        : utf8.SequenceEqual("Abandoned"u8) ? CheckpointStatus.Abandoned
        : Enum.Parse<CheckpointStatus>(Encoding.UTF8.GetString(utf8));
}
