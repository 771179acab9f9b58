using System.Text.Json;
using System.Xml.Linq;
using Checkpointing.Packaging.Tests.Support;

namespace Checkpointing.Packaging.Tests;

/// <summary>
/// New apps outside the solution that take the SDK from the packed folder only: their NuGet config lists that folder
/// as the one package source, and this machine's global packages folder as an offline fallback for the third-party
/// packages (which the solution's restore put there). Their own packages folder is new, so every SDK package must
/// come from the packed folder; the tests check the source recorded for each.
/// </summary>
public sealed class ConsumerTests(PackageFeed feed) : IDisposable
{
    private readonly string _work = Path.Combine(feed.Root, "apps-" + Guid.NewGuid().ToString("N")[..8]);

    private string Packages => Path.Combine(_work, "packages");

    public void Dispose()
    {
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
            // Left to the feed's cleanup.
        }
    }

    private string CreateApp(string template)
    {
        Directory.CreateDirectory(_work);
        File.WriteAllText(Path.Combine(_work, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="checkpointing" value="{feed.Folder}" />
              </packageSources>
              <fallbackPackageFolders>
                <clear />
                <add key="machine" value="{Repository.MachinePackages}" />
              </fallbackPackageFolders>
              <config>
                <add key="globalPackagesFolder" value="{Packages}" />
              </config>
            </configuration>
            """);

        // Nothing of the repository's build settings reaches the app: empty Directory.Build/Packages files stop the search.
        foreach (var name in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
        {
            File.WriteAllText(Path.Combine(_work, name), "<Project />\n");
        }

        var app = Path.Combine(_work, template);
        Directory.CreateDirectory(app);
        var source = Path.Combine(AppContext.BaseDirectory, "Consumers", template);
        File.Copy(Path.Combine(source, "App.csproj.in"), Path.Combine(app, "App.csproj"));
        File.Copy(Path.Combine(source, "Program.cs"), Path.Combine(app, "Program.cs"));
        return app;
    }

    private async Task<string> BuildAndRunAsync(string app)
    {
        var environment = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Packages };
        var build = await DotNet.RunAsync(app,
            ["build", "-c", "Release", "-nologo", "-v", "minimal", $"-p:CheckpointingVersion={feed.Version}", $"-p:ExtensionsVersion={ExtensionsVersion()}"],
            environment);
        Assert.True(build.ExitCode == 0, $"The app did not build:\n{build.Output}");

        var run = await DotNet.RunAsync(app, [Path.Combine(app, "bin", "Release", "net10.0", "App.dll"), Path.Combine(_work, "checkpoints.db")], environment, TimeSpan.FromMinutes(1));
        Assert.True(run.ExitCode == 0, $"The app failed:\n{run.Output}");
        return run.Output.ReplaceLineEndings("\n");
    }

    /// <summary>Every SDK package the app uses was extracted from the packed folder, none found anywhere else.</summary>
    private void AssertFromFeed(params string[] ids)
    {
        foreach (var id in ids)
        {
            var metadata = Path.Combine(Packages, id.ToLowerInvariant(), feed.Version, ".nupkg.metadata");
            Assert.True(File.Exists(metadata), $"{id} {feed.Version} was not restored into the app's own packages folder.");
            using var json = JsonDocument.Parse(File.ReadAllText(metadata));
            Assert.Equal(Path.TrimEndingDirectorySeparator(feed.Folder), Path.TrimEndingDirectorySeparator(json.RootElement.GetProperty("source").GetString()!));
        }
    }

    private static string ExtensionsVersion() =>
        XDocument.Load(Path.Combine(Repository.Root, "Directory.Packages.props")).Descendants("PackageVersion")
            .Single(e => e.Attribute("Include")?.Value == "Microsoft.Extensions.DependencyInjection").Attribute("Version")!.Value;

    [Fact]
    public async Task A_console_app_runs_a_pipeline_on_sqlite_start_patch_continue_onto_a_new_branch_complete()
    {
        var output = await BuildAndRunAsync(CreateApp("Console"));

        Assert.Equal(
            """
            started: Paused at phase 1 on main
            patched: outline v2
            continued: phase 2 on main-1 (new branch: True)
            finished: Completed
            draft: The last keeper, about a lighthouse

            """,
            output);
        AssertFromFeed("Checkpointing.Core", "Checkpointing.Sqlite");
    }

    [Fact]
    public async Task A_web_app_maps_the_endpoints_and_answers_a_request()
    {
        var output = await BuildAndRunAsync(CreateApp("Web"));

        Assert.Equal(
            """
            POST /api/runs: 201 completed owner local
            Location: True

            """,
            output);
        AssertFromFeed("Checkpointing.Core", "Checkpointing.Sqlite", "Checkpointing.AspNetCore");
    }
}
