using System.IO.Compression;
using System.Xml.Linq;
using Checkpointing.Packaging.Tests.Support;

[assembly: AssemblyFixture(typeof(PackageFeed))]

namespace Checkpointing.Packaging.Tests.Support;

/// <summary>
/// Every src/ project packed once per test run (<c>dotnet pack --no-build</c> on the solution's build output) into a
/// temporary folder that serves as the only source of the SDK's packages for the apps the tests create.
/// </summary>
public sealed class PackageFeed : IAsyncLifetime
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "checkpointing-packaging-" + Guid.NewGuid().ToString("N")[..12]);

    /// <summary>The folder the packages are packed into.</summary>
    public string Folder => Path.Combine(Root, "feed");

    /// <summary>The packed packages by id.</summary>
    public IReadOnlyDictionary<string, PackedPackage> Packages { get; private set; } = new Dictionary<string, PackedPackage>();

    /// <summary>The version every package has.</summary>
    public string Version => Packages.Values.Select(p => p.Version).Distinct().Single();

    public string PackOutput { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(Folder);
        var pack = await DotNet.RunAsync(Repository.Root,
            ["pack", "Checkpointing.sln", "-c", Repository.Configuration, "--no-build", "-o", Folder, "-nologo", "-v", "minimal"]);
        PackOutput = pack.Output;
        if (pack.ExitCode != 0)
        {
            throw new InvalidOperationException($"dotnet pack failed with exit code {pack.ExitCode}:\n{pack.Output}");
        }

        Packages = Directory.GetFiles(Folder, "*.nupkg").Select(PackedPackage.Read).ToDictionary(p => p.Id, StringComparer.Ordinal);
    }

    public ValueTask DisposeAsync()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Left to the temp folder's cleanup.
        }

        return default;
    }
}

/// <summary>What one .nupkg holds: its nuspec and its file names.</summary>
public sealed record PackedPackage(string Path, string Id, string Version, XElement Metadata, IReadOnlyList<string> Files)
{
    public string? this[string element] => Metadata.Elements().FirstOrDefault(e => e.Name.LocalName == element)?.Value;

    public XElement? Element(string name) => Metadata.Elements().FirstOrDefault(e => e.Name.LocalName == name);

    public static PackedPackage Read(string path)
    {
        using var zip = ZipFile.OpenRead(path);
        var nuspec = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal) && !e.FullName.Contains('/', StringComparison.Ordinal));
        using var stream = nuspec.Open();
        var metadata = XDocument.Load(stream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        string Value(string name) => metadata.Elements().Single(e => e.Name.LocalName == name).Value;
        return new PackedPackage(path, Value("id"), Value("version"), metadata, zip.Entries.Select(e => e.FullName).ToList());
    }
}
