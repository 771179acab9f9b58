using System.Reflection;

namespace Checkpointing.Packaging.Tests.Support;

/// <summary>Where the repository and its build output are.</summary>
internal static class Repository
{
    private static readonly Lazy<string> RootPath = new(FindRoot);

    /// <summary>The folder holding Checkpointing.sln.</summary>
    public static string Root => RootPath.Value;

    /// <summary>The configuration this test assembly (and so the src projects it depends on) was built in.</summary>
    public static string Configuration { get; } =
        typeof(Repository).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "Configuration").Value!;

    /// <summary>The package projects: every project under src/.</summary>
    public static IReadOnlyList<string> PackageProjects =>
        Directory.GetFiles(Path.Combine(Root, "src"), "*.csproj", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();

    /// <summary>The global packages folder of this machine, where the solution's restore put the third-party packages.</summary>
    public static string MachinePackages =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } folder
            ? folder
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Checkpointing.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Checkpointing.sln above {AppContext.BaseDirectory}: run the tests from the repository's build output.");
    }
}
