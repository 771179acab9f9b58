using System.Text.RegularExpressions;
using VideoPipeline.Tests.Support;

namespace VideoPipeline.Tests;

/// <summary>
/// The same phases on the PostgreSQL store, chosen by configuration alone. Needs the server that test.sh starts
/// (or CHECKPOINTING_POSTGRES); each test uses its own schema.
/// </summary>
public sealed class PostgresStoreTests
{
    private static string ConnectionString =>
        Environment.GetEnvironmentVariable("CHECKPOINTING_POSTGRES") is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException("CHECKPOINTING_POSTGRES is not set: run ./test.sh, which starts a throwaway PostgreSQL server, or set it to a connection string.");

    private static SampleApp OnPostgres()
    {
        var app = new SampleApp();
        app.Environment["Checkpointing__Store"] = "postgres";
        app.Environment["Checkpointing__Postgres"] = ConnectionString;
        app.Environment["Checkpointing__PostgresSchema"] = "sample_" + Guid.NewGuid().ToString("N")[..12];
        return app;
    }

    [Fact]
    public async Task Commands_in_separate_processes_share_one_run_in_postgres()
    {
        using var app = OnPostgres();

        var run = await app.SucceedAsync("run", "--prompt", "a teapot on a windowsill");
        var plan = Regex.Match(run.Stdout, @"checkpoint (?<id>[0-9a-f-]{36}) awaits review").Groups["id"].Value;
        Assert.NotEmpty(plan);
        await app.SucceedAsync("edit-spec", plan, """{"style":{"mood":"warm"}}""");
        var continued = await app.SucceedAsync("continue", plan);
        var tree = await app.SucceedAsync("tree");

        Assert.Contains("new branch main-1", continued.Stdout, StringComparison.Ordinal);
        Assert.Contains("2 branches: main, main-1", tree.Stdout, StringComparison.Ordinal);

        // Nothing went to SQLite: the data folder holds blobs and studio jobs only.
        Assert.False(File.Exists(Path.Combine(app.DataPath, "checkpoints.db")));
    }

    [Fact]
    public async Task Postgres_without_a_connection_string_is_a_one_line_error()
    {
        using var app = new SampleApp();
        app.Environment["Checkpointing__Store"] = "postgres";

        var result = await app.RunAsync("runs");

        Assert.NotEqual(0, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains("Checkpointing__Postgres", line, StringComparison.Ordinal);
    }
}
