using VideoPipeline.Tests.Support;

namespace VideoPipeline.Tests;

/// <summary>
/// Bad configuration and a bad data folder or database file: one <c>error:</c> line at start-up, a non-zero exit, no
/// stack trace, and nothing changed (the store, its blobs and studio files compared before and after).
/// </summary>
public sealed class StartupErrorTests(PausedRunFixture fixture) : IClassFixture<PausedRunFixture>
{
    public static TheoryData<string, string[], string> Cases => new()
    {
        { "zero width", ["Media__Width=0"], "Media:Width is 0; set it between 16 and 4096 pixels." },
        { "negative latency and huge frame rate", ["Studio__LatencyMilliseconds=-5", "Media__FramesPerSecond=1000"], "Media:FramesPerSecond is 1000; set it between 1 and 60 frames per second. Studio:LatencyMilliseconds is -5; set it between 0 and 600000 milliseconds." },
        { "width that is not a number", ["Media__Width=wide"], "Failed to convert configuration value 'wide' at 'Media:Width' to type 'System.Int32'." },
        { "unknown default clip model", ["VideoPipeline__DefaultClipModel=sora"], "VideoPipeline:DefaultClipModel: Unknown clip model 'sora'" },
        { "a Postgres setting that is not a connection string", ["Checkpointing__Store=postgres", "Checkpointing__Postgres=postgres"], "Checkpointing:Postgres is not a connection string (it has no 'Key=Value' pairs)" },
        { "a malformed Postgres connection string", ["Checkpointing__Store=postgres", "Checkpointing__Postgres=Host=;;==x"], "PostgresStoreOptions.ConnectionString cannot be parsed" },
        { "an SQLite path in a folder that does not exist", ["Checkpointing__Sqlite={missing}/checkpoints.db"], "is in a folder that does not exist ('{missing}'); create the folder or fix the path" },
        { "an SQLite connection string in a folder that does not exist", ["Checkpointing__Sqlite=Data Source={missing}/x.db"], "is in a folder that does not exist ('{missing}')" },
        { "a relative SQLite path in a sub-folder that does not exist", ["Checkpointing__Sqlite=typo/checkpoints.db"], "is in a folder that does not exist ('{data}/typo')" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bad_configuration_is_one_error_line_at_start_up_and_changes_nothing(string name, string[] environment, string expected)
    {
        var missing = Path.Combine(Path.GetTempPath(), "videopipeline-missing-" + Guid.NewGuid().ToString("N"));
        string Resolve(string text) => text.Replace("{missing}", missing, StringComparison.Ordinal).Replace("{data}", fixture.App.DataPath, StringComparison.Ordinal);
        var keys = new List<string>();
        try
        {
            foreach (var pair in environment)
            {
                var (key, value) = (pair[..pair.IndexOf('=', StringComparison.Ordinal)], pair[(pair.IndexOf('=', StringComparison.Ordinal) + 1)..]);
                fixture.App.Environment[key] = Resolve(value);
                keys.Add(key);
            }

            // A command that would run phase 3 and pay for clips, if start-up let it.
            var result = await fixture.App.RunAsync("continue", fixture.Storyboard);

            Assert.True(result.ExitCode != 0, $"{name}: {result}");
            var line = Assert.Single(result.ErrorLines);
            Assert.StartsWith("error: ", line, StringComparison.Ordinal);
            Assert.Contains(Resolve(expected), line, StringComparison.Ordinal);
            Assert.DoesNotContain(" at ", result.Stderr.Replace(line, "", StringComparison.Ordinal), StringComparison.Ordinal);
            Assert.Equal("", result.Stdout);
        }
        finally
        {
            keys.ForEach(k => fixture.App.Environment.Remove(k));
        }

        Assert.False(Directory.Exists(missing), "the folder of an explicit SQLite path was created");
        Assert.False(Directory.Exists(Path.Combine(fixture.App.DataPath, "typo")), "the folder of an explicit SQLite path was created");
        Assert.Equal(fixture.Before, await PausedRunFixture.State.CaptureAsync(fixture));
    }

    [Fact]
    public async Task Data_pointing_at_a_file_is_refused()
    {
        using var app = new SampleApp { PassDataOption = false };
        var file = app.Scratch("not-a-folder");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        await File.WriteAllTextAsync(file, "notes", TestContext.Current.CancellationToken);

        var result = await app.RunAsync("--data", file, "runs");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"error: --data '{file}' is a file; point it at a folder for the pipeline's data (it is created on first use).", Assert.Single(result.ErrorLines));
        Assert.Equal("notes", await File.ReadAllTextAsync(file, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task The_default_data_folder_is_created_on_first_run()
    {
        // The default ./data (relative to the working folder) is the program's own: it is made on first use.
        using var app = new SampleApp { PassDataOption = false };
        var data = Path.Combine(app.Scratch(""), "data");
        Assert.False(Directory.Exists(data));

        var run = await app.SucceedAsync("run", "--beats", "1", "--duration", "2");

        Assert.True(File.Exists(Path.Combine(data, "checkpoints.db")), run.ToString());
    }

    [Theory]
    [InlineData(0, "is an empty file (0 bytes), so it holds no checkpoints; it is not taken for a new store.")]
    [InlineData(100, "is not a SQLite database (it does not start with the SQLite header); nothing was changed.")]
    public async Task A_database_file_that_holds_no_database_is_not_taken_for_a_new_store(int size, string expected)
    {
        using var app = new SampleApp();
        var db = Path.Combine(app.DataPath, "checkpoints.db");
        var bytes = Enumerable.Range(0, size).Select(i => (byte)('a' + (i % 26))).ToArray();
        await File.WriteAllBytesAsync(db, bytes, TestContext.Current.CancellationToken);

        foreach (var args in new[] { new[] { "runs" }, ["run", "--beats", "1", "--duration", "2"] })
        {
            var result = await app.RunAsync(args);
            Assert.Equal(1, result.ExitCode);
            var line = Assert.Single(result.ErrorLines);
            Assert.Equal($"error: {(size == 0 ? $"The SQLite database '{db}' " : $"'{db}' ")}{expected}", line[..Math.Min(line.Length, $"error: {(size == 0 ? $"The SQLite database '{db}' " : $"'{db}' ")}{expected}".Length)]);
            Assert.Equal("", result.Stdout);
        }

        Assert.Equal(bytes, await File.ReadAllBytesAsync(db, TestContext.Current.CancellationToken));
        Assert.Equal([db], Directory.GetFiles(app.DataPath, "*", SearchOption.AllDirectories)); // no blob, no studio job, no -wal
    }

    [Fact]
    public async Task A_read_only_data_folder_still_serves_read_commands_and_refuses_writes_clearly()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Skip("Read-only folders are made with Unix file modes (or another user, as root).");
        }

        using var app = new SampleApp();
        var plan = Ids.PausedCheckpoint((await app.SucceedAsync("run", "--beats", "2", "--duration", "4")).Stdout);
        string[][] reads = [["runs"], ["status"], ["tree"], ["checkpoints"], ["show", plan], ["history", plan], ["branches"]];
        var before = new List<string>();
        foreach (var read in reads)
        {
            before.Add((await app.SucceedAsync(read)).Stdout);
        }

        var files = Snapshot(app.DataPath);
        var root = Environment.UserName == "root";
        using var reader = root ? new SampleApp(app.DataPath) { RunAsUser = 65534 } : null;
        var readOnly = reader ?? app;
        if (!root && !OperatingSystem.IsWindows())
        {
            SetWritable(app.DataPath, false);
        }

        try
        {
            for (var i = 0; i < reads.Length; i++)
            {
                var result = await readOnly.RunAsync(reads[i]);
                Assert.True(result.ExitCode == 0, result.ToString());
                Assert.Equal(before[i], result.Stdout);
            }

            var edit = await readOnly.RunAsync("edit-spec", plan, """{"style":{"mood":"warm"}}""");
            Assert.Equal(1, edit.ExitCode);
            var line = Assert.Single(edit.ErrorLines);
            Assert.StartsWith("error: ", line, StringComparison.Ordinal);
            Assert.Contains("is read-only; nothing was changed", line, StringComparison.Ordinal);
        }
        finally
        {
            if (!root && !OperatingSystem.IsWindows())
            {
                SetWritable(app.DataPath, true);
            }
        }

        Assert.Equal(files, Snapshot(app.DataPath));
        Assert.Equal(before[5], (await app.SucceedAsync("history", plan)).Stdout);
    }

    private static string Snapshot(string folder) => string.Join('\n', Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
        .Select(f => $"{Path.GetRelativePath(folder, f)} {new FileInfo(f).Length} {Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f)))}")
        .Order(StringComparer.Ordinal));

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static void SetWritable(string folder, bool writable)
    {
        foreach (var path in Directory.GetFileSystemEntries(folder, "*", SearchOption.AllDirectories).Append(folder))
        {
            var mode = File.GetUnixFileMode(path);
            var write = UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;
            File.SetUnixFileMode(path, writable ? mode | UnixFileMode.UserWrite : mode & ~write);
        }
    }
}
