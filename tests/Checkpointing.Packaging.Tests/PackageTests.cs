using System.IO.Compression;
using System.Xml.Linq;
using Checkpointing.Packaging.Tests.Support;

namespace Checkpointing.Packaging.Tests;

/// <summary>What <c>dotnet pack</c> makes of the src/ projects.</summary>
public sealed class PackageTests(PackageFeed feed)
{
    private const string RepositoryUrl = "https://github.com/checkpointing/checkpointing-sdk";

    public static TheoryData<string> Ids =>
        new(Repository.PackageProjects.Select(p => XDocument.Load(p).Descendants("PackageId").FirstOrDefault()?.Value ?? System.IO.Path.GetFileNameWithoutExtension(p)));

    [Fact]
    public void Every_src_project_is_one_package_with_the_sdk_prefix()
    {
        var expected = Repository.PackageProjects.Count;

        Assert.Equal(expected, feed.Packages.Count);
        Assert.All(feed.Packages.Keys, id => Assert.StartsWith("Checkpointing.", id, StringComparison.Ordinal));
        Assert.Contains("Checkpointing.Providers.Replicate", feed.Packages.Keys);
        Assert.Contains("Checkpointing.Testing", feed.Packages.Keys);
    }

    [Fact]
    public void Every_package_is_a_preview_of_one_version()
    {
        Assert.Equal("0.2.0-preview", feed.Version);
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void A_package_has_its_readme_xml_docs_symbols_licence_and_repository(string id)
    {
        var package = feed.Packages[id];

        Assert.Equal("README.md", package["readme"]);
        Assert.Contains("README.md", package.Files);
        Assert.Contains($"lib/net10.0/{id}.dll", package.Files);
        Assert.Contains($"lib/net10.0/{id}.xml", package.Files);
        Assert.Equal("MIT", package["license"]);
        Assert.Equal(RepositoryUrl, package["projectUrl"]);
        var repository = package.Element("repository")!;
        Assert.Equal("git", repository.Attribute("type")?.Value);
        Assert.Equal(RepositoryUrl, repository.Attribute("url")?.Value);
        Assert.Matches("^[0-9a-f]{40}$", repository.Attribute("commit")?.Value ?? "");
        Assert.False(string.IsNullOrWhiteSpace(package["description"]));

        var symbols = System.IO.Path.ChangeExtension(package.Path, ".snupkg");
        using var zip = ZipFile.OpenRead(symbols);
        Assert.Contains(zip.Entries, e => e.FullName == $"lib/net10.0/{id}.pdb");
    }

    public static TheoryData<string> Projects => new(Repository.PackageProjects.Select(p => System.IO.Path.GetRelativePath(Repository.Root, p)));

    [Theory]
    [MemberData(nameof(Projects))]
    public async Task A_package_project_validates_its_package_and_builds_deterministically_on_ci(string project)
    {
        var onCi = await PropertiesAsync(project, "CI=true");
        var local = await PropertiesAsync(project, "CI=false");

        Assert.Equal("true", onCi["EnablePackageValidation"]);
        Assert.Equal("true", onCi["Deterministic"]);
        Assert.Equal("true", onCi["ContinuousIntegrationBuild"]);
        Assert.Equal("", local["ContinuousIntegrationBuild"]);
        Assert.Equal("true", onCi["PublishRepositoryUrl"]);
        Assert.Equal("snupkg", onCi["SymbolPackageFormat"]);
    }

    [Fact]
    public void Core_does_not_depend_on_polly_and_the_relational_stores_do()
    {
        static IEnumerable<string> Dependencies(PackedPackage package) =>
            package.Metadata.Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => e.Attribute("id")!.Value);

        Assert.DoesNotContain("Polly.Core", Dependencies(feed.Packages["Checkpointing.Core"]));
        Assert.Contains("Polly.Core", Dependencies(feed.Packages["Checkpointing.Sqlite"]));
        Assert.Contains("Polly.Core", Dependencies(feed.Packages["Checkpointing.Postgres"]));
    }

    private static async Task<Dictionary<string, string>> PropertiesAsync(string project, string property)
    {
        string[] names = ["EnablePackageValidation", "Deterministic", "ContinuousIntegrationBuild", "PublishRepositoryUrl", "SymbolPackageFormat"];
        var result = await DotNet.RunAsync(Repository.Root, ["msbuild", project, "-nologo", $"-p:{property}", .. names.Select(n => $"-getProperty:{n}")]);
        Assert.True(result.ExitCode == 0, result.Output);
        using var json = System.Text.Json.JsonDocument.Parse(result.Output);
        return json.RootElement.GetProperty("Properties").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");
    }
}
