using VideoPipeline.Tests.Support;

namespace VideoPipeline.Tests;

/// <summary>Stores, backend and data folder come from configuration (environment variables here).</summary>
public sealed class ConfigurationTests
{
    [Fact]
    public async Task The_data_folder_comes_from_the_environment_when_no_option_is_given()
    {
        using var app = new SampleApp { PassDataOption = false };
        app.Environment["Checkpointing__DataPath"] = app.DataPath;
        var run = await app.SucceedAsync("run", "--beats", "1", "--duration", "2");
        Assert.True(File.Exists(Path.Combine(app.DataPath, "checkpoints.db")));
        Assert.Contains(Ids.RunId(run.Stdout), (await app.SucceedAsync("status")).Stdout);
    }

    [Fact]
    public async Task The_memory_store_keeps_nothing_between_processes()
    {
        using var app = new SampleApp();
        app.Environment["Checkpointing__Store"] = "memory";
        var run = await app.SucceedAsync("run", "--auto-continue", "--beats", "1", "--duration", "2");
        Assert.Contains("completed: the final cut is checkpoint", run.Stdout);
        Assert.False(File.Exists(Path.Combine(app.DataPath, "checkpoints.db")));

        var status = await app.RunAsync("status");
        Assert.Equal(1, status.ExitCode);
        Assert.StartsWith("error: There are no runs in ", Assert.Single(status.ErrorLines), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Checkpointing__Store", "mongodb", "error: Checkpointing:Store is 'mongodb'; this host knows 'sqlite', 'postgres' and 'memory'.")]
    [InlineData("Checkpointing__Backend", "runway", "error: Checkpointing:Backend is 'runway'; this host knows 'studio' and 'replicate'.")]
    [InlineData("Checkpointing__BlobStore", "azure", "error: Checkpointing:BlobStore is 'azure'; this host knows 'filesystem' and 's3'.")]
    public async Task An_unknown_provider_is_a_one_line_error(string variable, string value, string expected)
    {
        using var app = new SampleApp();
        app.Environment[variable] = value;
        var result = await app.RunAsync("runs");
        Assert.Equal(1, result.ExitCode);
        Assert.Equal(expected, Assert.Single(result.ErrorLines));
    }
}
