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
    public const NumberStyles MoneyStyles = NumberStyles.Number | NumberStyles.AllowExponent;

    public static decimal ParseMoney(string text) => decimal.Parse(text, MoneyStyles, CultureInfo.InvariantCulture);

    public static JsonElement Element(SqliteDataReader reader, int ordinal) => ParseElement(reader.GetString(ordinal));

    public static JsonElement? NullableElement(SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : ParseElement(reader.GetString(ordinal));

    public static TEnum Enum<TEnum>(SqliteDataReader reader, int ordinal)
        where TEnum : struct, Enum => System.Enum.Parse<TEnum>(reader.GetString(ordinal));

    public static DateTimeOffset ParseTime(ReadOnlySpan<char> text) =>
        DateTimeOffset.ParseExact(text, "O", CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);

    private static JsonElement ParseElement(string text)
    {
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }
}
