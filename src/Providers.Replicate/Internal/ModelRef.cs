using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace Checkpointing.Providers.Replicate;

/// <summary>A parsed model reference: an official model, a model version, or an alias for a configured default.</summary>
internal readonly partial record struct ModelRef(string? Owner, string? Name, string? Version, string? Alias)
{
    public bool IsAlias => Alias is not null;

    /// <summary>The <c>owner/name</c> form, or the version id when only that is known.</summary>
    public string Key => Owner is null ? Version! : $"{Owner}/{Name}";

    /// <summary>True when created through <c>POST /v1/models/{owner}/{name}/predictions</c>.</summary>
    public bool IsOfficial => Owner is not null && Version is null;

    public static bool TryParse(string value, [NotNullWhen(true)] out ModelRef model)
    {
        model = default;
        if (string.IsNullOrWhiteSpace(value))
        {
            return false;
        }

        var match = ModelPattern().Match(value);
        if (match.Success)
        {
            model = new ModelRef(match.Groups["owner"].Value, match.Groups["name"].Value, match.Groups["version"].Success ? match.Groups["version"].Value : null, null);
            return true;
        }

        if (VersionPattern().IsMatch(value))
        {
            model = new ModelRef(null, null, value.ToLowerInvariant(), null);
            return true;
        }

        if (AliasPattern().IsMatch(value))
        {
            model = new ModelRef(null, null, null, value.ToLowerInvariant());
            return true;
        }

        return false;
    }

    [GeneratedRegex("^(?<owner>[A-Za-z0-9][A-Za-z0-9_.-]*)/(?<name>[A-Za-z0-9][A-Za-z0-9_.-]*)(:(?<version>[A-Za-z0-9]+))?$")]
    private static partial Regex ModelPattern();

    [GeneratedRegex("^[0-9a-fA-F]{64}$")]
    private static partial Regex VersionPattern();

    [GeneratedRegex("^(text|image|video)$", RegexOptions.IgnoreCase)]
    private static partial Regex AliasPattern();
}
