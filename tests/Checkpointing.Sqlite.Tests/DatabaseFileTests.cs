namespace Checkpointing.Sqlite.Tests;

/// <summary>
/// A database file that holds no database is refused, not taken for a new store; an explicit path in a missing folder
/// is refused instead of created; an up-to-date schema is only read.
/// </summary>
public sealed class DatabaseFileTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_empty_file_is_refused_and_left_as_it_is()
    {
        using var db = new TempDatabase();
        await File.WriteAllBytesAsync(db.FilePath, [], Ct);
        using var store = db.Open();

        var e = await Assert.ThrowsAsync<SqliteDatabaseFileException>(() => store.ListRunsAsync(null, 10, Ct));

        Assert.Equal(SqliteDatabaseFileProblem.Empty, e.Problem);
        Assert.Equal(db.FilePath, e.Path);
        Assert.Contains("is an empty file (0 bytes), so it holds no checkpoints; it is not taken for a new store", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, new FileInfo(db.FilePath).Length);
        Assert.Equal([db.FilePath], Directory.GetFiles(db.Folder));
        await Assert.ThrowsAsync<SqliteDatabaseFileException>(() => store.MigrateAsync(Ct));
    }

    [Fact]
    public async Task A_file_that_is_not_a_database_is_refused_and_left_as_it_is()
    {
        using var db = new TempDatabase();
        var text = "id,name\n1,lamp\n"u8.ToArray();
        await File.WriteAllBytesAsync(db.FilePath, text, Ct);
        using var store = db.Open();

        var e = await Assert.ThrowsAsync<SqliteDatabaseFileException>(() => store.ListRunsAsync(null, 10, Ct));

        Assert.Equal(SqliteDatabaseFileProblem.NotADatabase, e.Problem);
        Assert.Contains("is not a SQLite database", e.Message, StringComparison.Ordinal);
        Assert.Equal(text, await File.ReadAllBytesAsync(db.FilePath, Ct));
    }

    [Fact]
    public async Task A_new_file_is_still_created_and_migrated_on_first_use()
    {
        using var db = new TempDatabase();
        using var store = db.Open();

        Assert.Empty(await store.ListRunsAsync(null, 10, Ct));
        Assert.True(new FileInfo(db.FilePath).Length > 0);
        Assert.Equal(0, await store.MigrateAsync(Ct));
    }

    [Fact]
    public void A_missing_folder_is_refused_at_start_up_when_it_must_not_be_created()
    {
        var folder = Path.Combine(Path.GetTempPath(), "checkpointing-missing-" + Guid.NewGuid().ToString("N"));
        var options = new SqliteStoreOptions { DataSource = Path.Combine(folder, "x.db"), CreateMissingFolder = false };

        var result = new SqliteStoreOptionsValidator().Validate(null, options);
        var e = Assert.Throws<SqliteDatabaseFileException>(() => new SqliteCheckpointStore(options));
        var viaConnectionString = new SqliteStoreOptionsValidator().Validate(null, new SqliteStoreOptions { ConnectionString = $"Data Source={folder}/y.db", CreateMissingFolder = false });

        Assert.True(result.Failed);
        Assert.Contains($"is in a folder that does not exist ('{folder}')", result.FailureMessage, StringComparison.Ordinal);
        Assert.True(viaConnectionString.Failed);
        Assert.Equal(SqliteDatabaseFileProblem.MissingFolder, e.Problem);
        Assert.False(Directory.Exists(folder));

        // The default still creates it.
        using (new SqliteCheckpointStore(new SqliteStoreOptions { DataSource = Path.Combine(folder, "x.db") }))
        {
            Assert.True(Directory.Exists(folder));
        }

        Directory.Delete(folder, recursive: true);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_database_in_a_read_only_folder_serves_reads()
    {
        using var db = new TempDatabase();
        using (var writer = db.Open())
        {
            await writer.MigrateAsync(Ct);
        }

        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS() || Environment.UserName == "root")
        {
            // Root writes through file modes; the sample's process test covers this case as another user.
            Assert.Skip("Needs a user that file modes apply to.");
        }

        File.SetUnixFileMode(db.FilePath, UnixFileMode.UserRead);
        File.SetUnixFileMode(db.Folder, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        try
        {
            using var reader = db.Open();
            Assert.Equal(0, await reader.MigrateAsync(Ct));
            Assert.Empty(await reader.ListRunsAsync(null, 10, Ct));
        }
        finally
        {
            File.SetUnixFileMode(db.Folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            File.SetUnixFileMode(db.FilePath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}
