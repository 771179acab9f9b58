using Npgsql;

namespace Checkpointing.Postgres.Tests;

/// <summary>Server errors the store does not expect still become SDK exceptions that say what failed and what to do.</summary>
public sealed class ExceptionTransformerTests
{
    [Fact]
    public void An_unexpected_error_keeps_the_operation_state_message_detail_hint_and_what_to_do()
    {
        var server = new PostgresException("value too long for type character varying(10)", "ERROR", "ERROR", "22001", detail: "Failing row contains (x).", hint: "Shorten it.");

        var error = PostgresExceptionTransformer.Transform(server, "CreateRun");

        Assert.Same(server, error.InnerException);
        Assert.Contains("CreateRun", error.Message, StringComparison.Ordinal);
        Assert.Contains("22001", error.Message, StringComparison.Ordinal);
        Assert.Contains("value too long", error.Message, StringComparison.Ordinal);
        Assert.Contains("Failing row contains (x).", error.Message, StringComparison.Ordinal);
        Assert.Contains("Shorten it.", error.Message, StringComparison.Ordinal);
        Assert.Contains("retry", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("22P05", "unsupported Unicode escape sequence")]
    [InlineData("22021", "invalid byte sequence for encoding \"UTF8\": 0x00")]
    public void Text_the_server_cannot_store_is_named_as_such(string state, string message)
    {
        var error = PostgresExceptionTransformer.Transform(new PostgresException(message, "ERROR", "ERROR", state), "UpdateArtifact");

        Assert.Contains("U+0000 (NUL)", error.Message, StringComparison.Ordinal);
        Assert.Contains("Remove it", error.Message, StringComparison.Ordinal);
        Assert.Contains(state, error.Message, StringComparison.Ordinal);
    }
}
