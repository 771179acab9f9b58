namespace Checkpointing.Sqlite.Tests;

/// <summary>A fresh folder under the temp directory holding one test's database files; deleted on dispose.</summary>
internal sealed class TempDatabase : IDisposable
{
    public TempDatabase()
    {
        Folder = Path.Combine(Path.GetTempPath(), "checkpointing-sqlite-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
    }

    public string Folder { get; }

    public string FilePath => Path.Combine(Folder, "checkpoints.db");

    public SqliteCheckpointStore Open(Action<SqliteStoreOptions>? configure = null)
    {
        var options = new SqliteStoreOptions { DataSource = FilePath };
        configure?.Invoke(options);
        return new SqliteCheckpointStore(options);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A file still open on this platform: the temp folder is cleaned up by the OS later.
        }
    }
}
