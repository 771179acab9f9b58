using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Microsoft.Extensions.Logging;

namespace VideoPipeline.Tests;

/// <summary>
/// docs/telemetry.md against the SDK's assemblies, both ways: every ActivitySource, Meter, instrument (name, meter,
/// kind, unit), attribute name constant and [LoggerMessage] event id of every package has its row, and every row names
/// something that exists. The sample references every package, so this project loads them all.
/// </summary>
public sealed partial class TelemetryDocsTests
{
    private static readonly Lazy<string> Root = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Checkpointing.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException($"Checkpointing.sln not found above {AppContext.BaseDirectory}.");
    });

    private static readonly Lazy<string> Page = new(() => File.ReadAllText(Path.Combine(Root.Value, "docs", "telemetry.md")));

    /// <summary>The assembly of every src/ project whose sources log or measure, loaded by its assembly name.</summary>
    private static readonly Lazy<IReadOnlyList<Assembly>> Packages = new(() =>
    {
        var assemblies = new List<Assembly>();
        foreach (var project in Directory.EnumerateFiles(Path.Combine(Root.Value, "src"), "*.csproj", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var folder = Path.GetDirectoryName(project)!;
            var instrumented = Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories)
                .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
                .Any(f => File.ReadAllText(f) is var text && (text.Contains("[LoggerMessage", StringComparison.Ordinal) || text.Contains("new ActivitySource(", StringComparison.Ordinal) || text.Contains("new Meter(", StringComparison.Ordinal)));
            if (!instrumented)
            {
                continue;
            }

            var name = XDocument.Load(project).Descendants("AssemblyName").FirstOrDefault()?.Value ?? Path.GetFileNameWithoutExtension(project);
            assemblies.Add(Assembly.Load(name));
        }

        return assemblies;
    });

    [Fact]
    public void Every_package_that_logs_or_measures_is_loaded()
    {
        Assert.Equal(
            ["Checkpointing.AspNetCore", "Checkpointing.Core", "Checkpointing.Postgres", "Checkpointing.Providers.Replicate", "Checkpointing.S3", "Checkpointing.Sqlite"],
            Packages.Value.Select(a => a.GetName().Name!).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Every_activity_source_has_its_row_and_every_row_exists()
    {
        var actual = StaticValues<ActivitySource>().Select(s => (s.Owner, s.Value.Name)).ToHashSet();
        var documented = Rows("Activity sources").Select(r => (r[1], r[0])).ToHashSet();

        Assert.NotEmpty(actual);
        Assert.Equal(actual.Order(), documented.Order());
    }

    [Fact]
    public void Every_meter_has_its_row_and_every_row_exists()
    {
        var actual = StaticValues<Meter>().Select(m => (m.Owner, m.Value.Name)).ToHashSet();
        var documented = Rows("Meters").Select(r => (r[1], r[0])).ToHashSet();

        Assert.NotEmpty(actual);
        Assert.Equal(actual.Order(), documented.Order());
    }

    [Fact]
    public void Every_instrument_has_its_row_with_meter_kind_and_unit_and_every_row_exists()
    {
        var actual = StaticValues<Instrument>().Select(i => $"{i.Value.Name} | {i.Value.Meter.Name} | {KindOf(i.Value)} | {i.Value.Unit}").Order(StringComparer.Ordinal).ToList();
        var documented = Rows("Instruments").Select(r => $"{r[0]} | {r[1]} | {r[2]} | {r[3]}").Order(StringComparer.Ordinal).ToList();

        Assert.True(actual.Count > 10, $"only {actual.Count} instruments found");
        Assert.Equal(actual, documented);
    }

    [Fact]
    public void Every_attribute_name_constant_is_documented_and_every_documented_attribute_is_a_constant()
    {
        // The attribute keys: string constants of the Tags classes and of the GenAI conventions (values like "a.b").
        var constants = Packages.Value
            .SelectMany(a => a.GetTypes())
            .Where(t => t.Name is "Tags" or "GenAiConventions")
            .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static))
            .Where(f => f.IsLiteral && f.FieldType == typeof(string))
            .Select(f => (string)f.GetRawConstantValue()!)
            .Where(v => AttributeName().IsMatch(v))
            .ToHashSet(StringComparer.Ordinal);
        var instrumentNames = StaticValues<Instrument>().Select(i => i.Value.Name).ToHashSet(StringComparer.Ordinal);
        var documented = Rows("Spans").Select(r => r[3]).Concat(Rows("Instruments").Select(r => r[4]))
            .SelectMany(cell => Backticked().Matches(cell).Select(m => m.Groups[1].Value))
            .Where(v => AttributeName().IsMatch(v))
            .ToHashSet(StringComparer.Ordinal);

        Assert.Contains("gen_ai.usage.cost.amount", constants);
        Assert.Empty(constants.Except(documented).Except(instrumentNames).Order(StringComparer.Ordinal));
        Assert.Empty(documented.Except(constants).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Every_log_event_id_has_its_row_with_name_and_level_and_every_row_exists()
    {
        var actual = Packages.Value
            .SelectMany(a => a.GetTypes().SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.DeclaredOnly))
                .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
                .Where(x => x.Attribute is not null)
                .Select(x => $"{a.GetName().Name} | {x.Attribute!.EventId} | {x.Attribute.EventName ?? x.Method.Name} | {x.Attribute.Level}"))
            .Order(StringComparer.Ordinal).ToList();
        var documented = Rows("Log events").Select(r => $"{r[0]} | {r[1]} | {r[2]} | {r[3]}").Order(StringComparer.Ordinal).ToList();

        Assert.True(actual.Count > 50, $"only {actual.Count} log events found");
        Assert.Equal(actual, documented);
    }

    [Fact]
    public void Log_event_ids_are_unique_within_a_package()
    {
        var duplicates = Rows("Log events").GroupBy(r => (r[0], r[1])).Where(g => g.Count() > 1).Select(g => $"{g.Key.Item1} {g.Key.Item2}");

        Assert.Empty(duplicates);
    }

    private static string KindOf(Instrument instrument) => instrument.GetType().GetGenericTypeDefinition().Name switch
    {
        "Counter`1" => "counter",
        "Histogram`1" => "histogram",
        "UpDownCounter`1" => "up-down counter",
        "Gauge`1" => "gauge",
        "ObservableCounter`1" => "observable counter",
        "ObservableGauge`1" => "observable gauge",
        "ObservableUpDownCounter`1" => "observable up-down counter",
        var other => other,
    };

    /// <summary>The values of every static field of type <typeparamref name="T"/> in the packages, with the package that holds it.</summary>
    private static IEnumerable<(string Owner, T Value)> StaticValues<T>()
        where T : class =>
        Packages.Value.SelectMany(a => a.GetTypes()
            .Where(t => !t.ContainsGenericParameters)
            .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static))
            .Where(f => typeof(T).IsAssignableFrom(f.FieldType))
            .Select(f => (a.GetName().Name!, (T)f.GetValue(null)!)));

    /// <summary>The body rows of the first table under the heading <paramref name="heading"/>, cells trimmed and without backticks.</summary>
    private static List<string[]> Rows(string heading)
    {
        var lines = Page.Value.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var start = lines.FindIndex(l => Regex.IsMatch(l, $"^#+ {Regex.Escape(heading)}$"));
        Assert.True(start >= 0, $"docs/telemetry.md has no heading '{heading}'");
        var table = lines.Skip(start + 1).SkipWhile(l => !l.StartsWith('|')).TakeWhile(l => l.StartsWith('|')).Skip(2).ToList();
        Assert.NotEmpty(table);
        return table.Select(l => Regex.Split(l.Trim().Trim('|'), @"(?<!\\)\|").Select(c => c.Trim()).ToArray())
            .Select(cells => cells.Select((c, i) => i < 4 && Backticked().Match(c) is { Success: true } m && m.Value == c ? m.Groups[1].Value : c).ToArray())
            .ToList();
    }

    [GeneratedRegex("`([^`]+)`")]
    private static partial Regex Backticked();

    [GeneratedRegex(@"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")]
    private static partial Regex AttributeName();
}
