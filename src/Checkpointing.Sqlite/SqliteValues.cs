using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Checkpointing.Sqlite;

/// <summary>
/// Conversions between model values and SQLite columns: GUIDs as lower-case text, times as ISO 8601 round-trip text,
/// money as invariant decimal text, enums by name, JSON values as text.
/// </summary>
internal static class SqliteValues
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.General);

    public static object ToDb(object? value) => value switch
    {
        null => DBNull.Value,
        Guid g => g.ToString("D"),
        DateTimeOffset t => t.ToString("O", CultureInfo.InvariantCulture),
        decimal d => d.ToString(CultureInfo.InvariantCulture),
        bool b => b ? 1L : 0L,
        Enum e => e.ToString(),
        _ => value,
    };

    public static string Json<T>(T value) => JsonSerializer.Serialize(value, JsonOptions);

    public static T FromJson<T>(string text) =>
        JsonSerializer.Deserialize<T>(text, JsonOptions) ?? throw new InvalidOperationException($"The stored {typeof(T).Name} is null.");

    public static Guid Guid(SqliteDataReader reader, int ordinal) => System.Guid.Parse(reader.GetString(ordinal));

    public static Guid? NullableGuid(SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : System.Guid.Parse(reader.GetString(ordinal));

    public static string? NullableString(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    public static int? NullableInt(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetInt32(ordinal);

    public static DateTimeOffset Time(SqliteDataReader reader, int ordinal) => ParseTime(reader.GetString(ordinal));

    public static DateTimeOffset? NullableTime(SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : ParseTime(reader.GetString(ordinal));

    public static decimal Money(SqliteDataReader reader, int ordinal) => ParseMoney(reader.GetString(ordinal));

    public static decimal? NullableMoney(SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : ParseMoney(reader.GetString(ordinal));

    /// <summary>What money text may hold.</summary>
    private const NumberStyles MoneyStyles = NumberStyles.Number | NumberStyles.AllowExponent;

    public static decimal ParseMoney(string text) => decimal.Parse(text, MoneyStyles, CultureInfo.InvariantCulture);

    public static JsonElement Element(SqliteDataReader reader, int ordinal) => ParseElement(reader.GetString(ordinal));

    public static JsonElement? NullableElement(SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : ParseElement(reader.GetString(ordinal));

    public static TEnum Enum<TEnum>(SqliteDataReader reader, int ordinal)
        where TEnum : struct, Enum => System.Enum.Parse<TEnum>(reader.GetString(ordinal));

    public static DateTimeOffset ParseTime(ReadOnlySpan<char> text) =>
        DateTimeOffset.ParseExact(text, "O", CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);

    /// <summary><see cref="ParseTime(ReadOnlySpan{char})"/> of a column's UTF-8 text (a round-trip time is ASCII).</summary>
    public static DateTimeOffset ParseTime(ReadOnlySpan<byte> utf8)
    {
        Span<char> text = stackalloc char[64];
        return utf8.Length <= text.Length && System.Text.Ascii.ToUtf16(utf8, text, out var length) == System.Buffers.OperationStatus.Done
            ? ParseTime(text[..length])
            : ParseTime(System.Text.Encoding.UTF8.GetString(utf8));
    }

    /// <summary><see cref="ParseMoney(string)"/> of a column's UTF-8 text.</summary>
    public static decimal ParseMoney(ReadOnlySpan<byte> utf8) =>
        utf8.SequenceEqual("0"u8) ? 0m : decimal.Parse(utf8, MoneyStyles, CultureInfo.InvariantCulture);

    /// <summary>A JSON value from a column's UTF-8 text, as <see cref="Element"/> reads it.</summary>
    public static JsonElement ParseElement(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8);
        return JsonElement.ParseValue(ref reader);
    }

    private static JsonElement ParseElement(string text)
    {
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }
}
