using System.Text.RegularExpressions;
using Checkpointing.Packaging.Tests.Support;

namespace Checkpointing.Packaging.Tests;

/// <summary>Removing public API without updating PublicAPI.*.txt fails the build (RS0017), shown on a copy of a package.</summary>
public sealed partial class PublicApiBreakTests : IDisposable
{
    private readonly string _copy = Path.Combine(Path.GetTempPath(), "checkpointing-api-break-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_copy, recursive: true);
        }
        catch (IOException)
        {
            // Left to the temp folder's cleanup.
        }
    }

    [Fact]
    public async Task Removing_public_members_without_updating_the_api_files_fails_the_build_with_RS0017()
    {
        // The build settings of the repository and the S3 package's sources, with Core referenced as built.
        foreach (var file in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", ".editorconfig", "global.json" })
        {
            Directory.CreateDirectory(_copy);
            File.Copy(Path.Combine(Repository.Root, file), Path.Combine(_copy, file));
        }

        CopyFolder(Path.Combine(Repository.Root, "eng"), Path.Combine(_copy, "eng"));
        var project = Path.Combine(_copy, "src", "Checkpointing.S3");
        CopyFolder(Path.Combine(Repository.Root, "src", "Checkpointing.S3"), project);
        var csproj = Path.Combine(project, "Checkpointing.S3.csproj");
        var core = Path.Combine(Repository.Root, "src", "Checkpointing.Core", "bin", Repository.Configuration, "net10.0", "Checkpointing.Core.dll");
        var text = File.ReadAllText(csproj);
        Assert.Contains("""<ProjectReference Include="../Checkpointing.Core/Checkpointing.Core.csproj" />""", text, StringComparison.Ordinal);
        File.WriteAllText(csproj, text.Replace("""<ProjectReference Include="../Checkpointing.Core/Checkpointing.Core.csproj" />""", $"""<Reference Include="{core}" />""", StringComparison.Ordinal));

        // The break: the health check extensions (a public class, a constant and a method) are deleted, the API files are not touched.
        File.Delete(Path.Combine(project, "S3HealthChecksBuilderExtensions.cs"));

        var build = await DotNet.RunAsync(project, ["build", "-c", "Release", "-nologo", "-v", "quiet", "-p:EnableSourceControlManagerQueries=false", "-p:EnableSourceLink=false"]);

        Assert.NotEqual(0, build.ExitCode);
        var errors = ErrorCode().Matches(build.Output).Select(m => m.Value).Distinct().ToList();
        Assert.True(errors.SequenceEqual(["error RS0017"]), $"Expected only RS0017 errors:\n{build.Output}");
        Assert.Contains("Symbol 'static Microsoft.Extensions.DependencyInjection.S3HealthChecksBuilderExtensions.AddCheckpointingS3(", build.Output, StringComparison.Ordinal);
        Assert.Contains("is part of the declared API, but is either not public or could not be found", build.Output, StringComparison.Ordinal);
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }

        foreach (var folder in Directory.GetDirectories(from).Where(d => Path.GetFileName(d) is not ("bin" or "obj")))
        {
            CopyFolder(folder, Path.Combine(to, Path.GetFileName(folder)));
        }
    }

    [GeneratedRegex(@"error [A-Z]+[0-9]+")]
    private static partial Regex ErrorCode();
}
