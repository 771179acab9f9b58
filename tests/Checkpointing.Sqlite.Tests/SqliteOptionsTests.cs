using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Checkpointing.Sqlite.Tests;

public sealed class SqliteOptionsTests : IDisposable
{
    private readonly TempDatabase _database = new();

    public void Dispose() => _database.Dispose();

    [Fact]
    public void Defaults()
    {
        var options = new SqliteStoreOptions();

        Assert.Null(options.ConnectionString);
        Assert.Null(options.DataSource);
        Assert.Equal(TimeSpan.FromSeconds(30), options.BusyTimeout);
        Assert.True(options.ApplyMigrations);
        Assert.Equal(10, options.MaxBusyRetries);
        Assert.Equal(SqliteSynchronous.Full, options.Synchronous);
    }

    [Theory]
    [InlineData(SqliteSynchronous.Full, 2)]
    [InlineData(SqliteSynchronous.Normal, 1)]
    public void Every_connection_of_the_store_commits_at_the_chosen_durability(SqliteSynchronous synchronous, long level)
    {
        using var store = _database.Open(o => o.Synchronous = synchronous);

        Assert.Equal(level, store.ReadPragma("synchronous"));
    }

    [Fact]
    public void An_undefined_durability_is_refused()
    {
        var result = new SqliteStoreOptionsValidator().Validate(null, new SqliteStoreOptions { DataSource = _database.FilePath, Synchronous = (SqliteSynchronous)7 });

        Assert.True(result.Failed);
        Assert.Contains("SqliteStoreOptions.Synchronous is 7", Assert.Single(result.Failures!), StringComparison.Ordinal);
    }

    [Fact]
    public void Nothing_set_is_refused_with_what_to_set()
    {
        var result = new SqliteStoreOptionsValidator().Validate(null, new SqliteStoreOptions());

        Assert.True(result.Failed);
        Assert.Equal(
            "SqliteStoreOptions: neither ConnectionString nor DataSource is set; set DataSource to a database file path such as 'data/checkpoints.db'.",
            Assert.Single(result.Failures!));
    }

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        var options = new SqliteStoreOptions
        {
            ConnectionString = "Data Source=a.db",
            DataSource = "b.db",
            BusyTimeout = TimeSpan.FromSeconds(-1),
            MaxBusyRetries = -3,
        };

        var failures = new SqliteStoreOptionsValidator().Validate(null, options).Failures!.ToList();

        Assert.Equal(
        [
            "SqliteStoreOptions.ConnectionString and SqliteStoreOptions.DataSource are both set; set only one of them.",
            "SqliteStoreOptions.BusyTimeout is -00:00:01; set it between 00:00:00 and 00:10:00.",
            "SqliteStoreOptions.MaxBusyRetries is -3; set it between 0 and 1000.",
        ], failures);
    }

    [Theory]
    [InlineData("Data Source=:memory:")]
    [InlineData("Data Source=x.db;Mode=Memory")]
    [InlineData("Data Source=x.db;Mode=ReadOnly")]
    [InlineData("Mode=ReadWriteCreate")]
    [InlineData("Data Source=x.db;Bogus Keyword=1")]
    public void Unusable_connection_strings_are_refused(string connectionString)
    {
        var result = new SqliteStoreOptionsValidator().Validate(null, new SqliteStoreOptions { ConnectionString = connectionString });

        Assert.True(result.Failed);
        Assert.All(result.Failures!, f => Assert.StartsWith("SqliteStoreOptions", f, StringComparison.Ordinal));
    }

    [Fact]
    public void The_store_constructor_refuses_invalid_options()
    {
        var e = Assert.Throws<InvalidOperationException>(() => new SqliteCheckpointStore(new SqliteStoreOptions { DataSource = ":memory:" }));

        Assert.Contains("not a plain file path", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UseSqlite_with_a_plain_path_registers_the_store_on_that_file()
    {
        var path = Path.Combine(_database.Folder, "data", "checkpoints.db");
        var services = new ServiceCollection();
        services.AddCheckpointing(b => b.UseSqlite(path));
        using var provider = services.BuildServiceProvider();

        var store = Assert.IsType<SqliteCheckpointStore>(provider.GetRequiredService<ICheckpointStore>());

        Assert.Equal(path, provider.GetRequiredService<IOptions<SqliteStoreOptions>>().Value.DataSource);
        Assert.Equal(Path.GetFullPath(path), store.DataSource);
        Assert.True(Directory.Exists(Path.GetDirectoryName(path)));
        Assert.Same(store, provider.GetRequiredService<SqliteCheckpointStore>());
    }

    [Fact]
    public void UseSqlite_with_a_connection_string_keeps_it()
    {
        var path = Path.Combine(_database.Folder, "cs.db");
        var services = new ServiceCollection();
        services.AddCheckpointing(b => b.UseSqlite($"Data Source={path}"));
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<SqliteStoreOptions>>().Value;

        Assert.Equal($"Data Source={path}", options.ConnectionString);
        Assert.Null(options.DataSource);
        Assert.Equal(path, ((SqliteCheckpointStore)provider.GetRequiredService<ICheckpointStore>()).DataSource);
    }

    [Fact]
    public void UseSqlite_with_invalid_options_fails_when_the_options_are_read()
    {
        var services = new ServiceCollection();
        services.AddCheckpointing(b => b.UseSqlite(o => o.BusyTimeout = TimeSpan.FromHours(1)));
        using var provider = services.BuildServiceProvider();

        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<ICheckpointStore>());

        Assert.Contains("SqliteStoreOptions: neither ConnectionString nor DataSource is set; set DataSource to a database file path such as 'data/checkpoints.db'.", e.Failures);
        Assert.Contains("SqliteStoreOptions.BusyTimeout is 01:00:00; set it between 00:00:00 and 00:10:00.", e.Failures);
    }

    [Fact]
    public async Task UseSqlite_works_end_to_end_through_dependency_injection()
    {
        var services = new ServiceCollection();
        services.AddCheckpointing(b => b.UseSqlite(o => o.DataSource = Path.Combine(_database.Folder, "di.db")));
        var run = new Run
        {
            Id = Guid.NewGuid(),
            Pipeline = "p",
            OwnerId = "o",
            Input = default,
            Status = RunStatus.Queued,
            CreatedAt = DateTimeOffset.UnixEpoch,
            UpdatedAt = DateTimeOffset.UnixEpoch,
        };
        using (var document = System.Text.Json.JsonDocument.Parse("{}"))
        {
            run = run with { Input = document.RootElement.Clone() };
        }

        await using (var provider = services.BuildServiceProvider())
        {
            await provider.GetRequiredService<ICheckpointStore>().CreateRunAsync(run, TestContext.Current.CancellationToken);
        }

        using var reopened = new SqliteCheckpointStore(new SqliteStoreOptions { DataSource = Path.Combine(_database.Folder, "di.db") });
        Assert.NotNull(await reopened.GetRunAsync(run.Id, TestContext.Current.CancellationToken));
    }
}
