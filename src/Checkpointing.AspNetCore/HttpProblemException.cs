namespace Checkpointing.AspNetCore;

/// <summary>An HTTP-level refusal raised inside a handler and answered as problem details by the endpoint filter.</summary>
internal sealed class HttpProblemException(int status, string type, string title, string detail) : Exception(detail)
{
    public int Status { get; } = status;

    public string Type { get; } = type;

    public string Title { get; } = title;
}
