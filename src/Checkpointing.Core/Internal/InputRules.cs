using System.Text;
using System.Text.Json;

namespace Checkpointing.Internal;

/// <summary>
/// The SDK's rules for text and inline JSON entering a store: limits from <see cref="CheckpointingOptions"/>, and no
/// character a store cannot hold (U+0000, lone surrogates). Applied in Core before anything is paid or stored, so every
/// store accepts and refuses the same values.
/// </summary>
internal static class InputRules
{
    private const int MaxQuoted = 64;

    /// <summary>Checks an optional text field.</summary>
    public static void Text(string? value, string field, int maxLength)
    {
        if (value is null)
        {
            return;
        }

        if (value.Length > maxLength)
        {
            throw new InputTooLargeException(field, maxLength, value.Length, "characters");
        }

        if (FindUnsupported(value) is { } bad)
        {
            throw new UnsupportedCharacterException(field, bad.Character, bad.Position);
        }
    }

    /// <summary>Checks a required text field: present, not blank, then <see cref="Text"/>.</summary>
    public static void RequiredText(string? value, string field, int maxLength)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new InvalidInputException(field, $"{field} is {(value is null ? "missing" : "empty")}; set it to a non-empty value.");
        }

        Text(value, field, maxLength);
    }

    /// <summary>Checks inline JSON: defined, at most <paramref name="maxBytes"/> bytes of UTF-8 text, no unsupported character in any string or name.</summary>
    public static void Json(JsonElement value, string field, long maxBytes)
    {
        if (value.ValueKind == JsonValueKind.Undefined)
        {
            throw new InvalidInputException(field, $"{field} is not set (a default JsonElement); pass a JSON value, e.g. JsonSerializer.SerializeToElement(new {{ ... }}).");
        }

        var text = value.GetRawText();
        var bytes = Encoding.UTF8.GetByteCount(text);
        if (bytes > maxBytes)
        {
            throw new InputTooLargeException(field, maxBytes, bytes, "bytes");
        }

        CheckJson(value, field, text);
    }

    /// <summary>Checks a JSON text before it is parsed (e.g. a merge patch): its size only.</summary>
    public static void JsonText(string value, string field, long maxBytes)
    {
        var bytes = Encoding.UTF8.GetByteCount(value);
        if (bytes > maxBytes)
        {
            throw new InputTooLargeException(field, maxBytes, bytes, "bytes");
        }
    }

    /// <summary>Checks what a phase or an edit is about to store: inline JSON content, metadata text and JSON.</summary>
    public static void Content(ArtifactContent content, ArtifactMetadata metadata, string field, long maxJsonBytes, int maxTextLength)
    {
        if (content.Json is { } json)
        {
            Json(json, field, maxJsonBytes);
        }

        Metadata(metadata, field, maxJsonBytes, maxTextLength);
    }

    /// <summary>Checks metadata text and JSON.</summary>
    public static void Metadata(ArtifactMetadata metadata, string field, long maxJsonBytes, int maxTextLength)
    {
        Text(metadata.Prompt, field + ".Metadata.Prompt", maxTextLength);
        Text(metadata.Model, field + ".Metadata.Model", maxTextLength);
        Text(metadata.ExternalJobId, field + ".Metadata.ExternalJobId", maxTextLength);
        if (metadata.Extra is { } extra)
        {
            Json(extra, field + ".Metadata.Extra", maxJsonBytes);
        }
    }

    /// <summary>
    /// Makes text safe to store and show (e.g. an exception message recorded as a run's error): unsupported characters
    /// become U+FFFD and the text is cut at <paramref name="maxLength"/>.
    /// </summary>
    public static string StoreSafe(string text, int maxLength = 4000)
    {
        if (FindUnsupported(text) is not null)
        {
            var builder = new StringBuilder(text.Length);
            for (var i = 0; i < text.Length; i++)
            {
                var c = text[i];
                if (c == '\0')
                {
                    builder.Append('\uFFFD');
                }
                else if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                {
                    builder.Append(c).Append(text[++i]);
                }
                else if (char.IsSurrogate(c))
                {
                    builder.Append('\uFFFD');
                }
                else
                {
                    builder.Append(c);
                }
            }

            text = builder.ToString();
        }

        return text.Length <= maxLength ? text : string.Concat(text.AsSpan(0, maxLength - 1), "…");
    }

    /// <summary>A short, printable form of untrusted text for an error message: control and unpaired characters escaped, cut at 64 characters.</summary>
    public static string Quote(string? value)
    {
        if (value is null)
        {
            return "<null>";
        }

        var builder = new StringBuilder();
        for (var i = 0; i < value.Length && builder.Length < MaxQuoted; i++)
        {
            var c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                builder.Append(c).Append(value[++i]);
            }
            else if (char.IsControl(c) || char.IsSurrogate(c))
            {
                builder.Append($"\\u{(int)c:X4}");
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.Length < MaxQuoted || value.Length <= MaxQuoted ? builder.ToString() : builder + $"… ({value.Length} characters)";
    }

    private static (string Character, int Position)? FindUnsupported(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\0')
            {
                return ("U+0000 (NUL)", i);
            }

            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return ($"U+{(int)c:X4} (half of a surrogate pair)", i);
            }
        }

        return null;
    }

    private static void CheckJson(JsonElement element, string field, string text)
    {
        // Fast path: no escape or raw character that could decode to an unsupported one.
        if (!text.Contains('\\', StringComparison.Ordinal) && FindUnsupported(text) is null)
        {
            return;
        }

        Walk(element, field, text);
    }

    private static void Walk(JsonElement element, string field, string text)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    CheckString(() => property.Name, field, text);
                    Walk(property.Value, field, text);
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    Walk(item, field, text);
                }

                break;
            case JsonValueKind.String:
                CheckString(() => element.GetString()!, field, text);
                break;
        }
    }

    private static void CheckString(Func<string> read, string field, string text)
    {
        string value;
        try
        {
            value = read();
        }
        catch (InvalidOperationException)
        {
            // System.Text.Json refuses to decode an escaped lone surrogate.
            throw new UnsupportedCharacterException(field, "half of a surrogate pair", PositionOf(text, "\\uD") ?? PositionOf(text, "\\ud") ?? 0);
        }

        if (FindUnsupported(value) is { } bad)
        {
            var escape = bad.Character.StartsWith("U+0000", StringComparison.Ordinal) ? "\\u0000" : "\\u" + bad.Character[2..6];
            throw new UnsupportedCharacterException(field, bad.Character, PositionOf(text, escape) ?? PositionOf(text, value[bad.Position].ToString()) ?? 0);
        }
    }

    private static long? PositionOf(string text, string what)
    {
        var i = text.IndexOf(what, StringComparison.OrdinalIgnoreCase);
        return i < 0 ? null : i;
    }
}
