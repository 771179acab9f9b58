namespace Checkpointing;

/// <summary>Rules for artifact types and keys: 1-128 characters of <c>[A-Za-z0-9_.-]</c>, not starting with a dot.</summary>
public static class ArtifactKeys
{
    /// <summary>Tells whether <paramref name="value"/> is a valid artifact type or key.</summary>
    /// <param name="value">The value.</param>
    public static bool IsValid(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > 128 || value[0] == '.')
        {
            return false;
        }

        foreach (var c in value)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('_' or '-' or '.'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Throws <see cref="InvalidArtifactKeyException"/> unless <paramref name="value"/> is valid.</summary>
    /// <param name="value">The value.</param>
    /// <param name="what">"type" or "key", for the message.</param>
    public static void Validate(string value, string what = "key")
    {
        if (!IsValid(value))
        {
            throw new InvalidArtifactKeyException(value ?? "<null>", what);
        }
    }
}
