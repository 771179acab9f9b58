using System.Text.RegularExpressions;

namespace VideoPipeline.Tests.Support;

/// <summary>Pulls ids out of the sample's plain-text output.</summary>
public static partial class Ids
{
    /// <summary>The id in the first match of <paramref name="pattern"/>, whose group "id" is a GUID.</summary>
    public static string Find(string output, string pattern)
    {
        var match = Regex.Match(output, pattern.Replace("{id}", "(?<id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})", StringComparison.Ordinal));
        Assert.True(match.Success, $"no match for /{pattern}/ in:\n{output}");
        return match.Groups["id"].Value;
    }

    public static string PausedCheckpoint(string output) => Find(output, "checkpoint {id} awaits review");

    public static string RunId(string output) => Find(output, "run {id} started");
}
