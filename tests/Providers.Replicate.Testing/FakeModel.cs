namespace Checkpointing.Providers.Replicate.Testing;

/// <summary>What an output of a fake model looks like.</summary>
public enum FakeOutputKind
{
    /// <summary>An array of file URLs (FLUX schnell / dev).</summary>
    FileArray,
    /// <summary>One file URL (video models, FLUX 1.1 pro).</summary>
    SingleFile,
    /// <summary>An array of string tokens (LLMs), growing while the prediction runs.</summary>
    Tokens,
}

/// <summary>How a model hosted by <see cref="FakeReplicateServer"/> behaves.</summary>
public sealed record FakeModel
{
    /// <summary>How long a prediction stays <c>starting</c>.</summary>
    public TimeSpan Starting { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>How long it stays <c>processing</c>.</summary>
    public TimeSpan Processing { get; init; } = TimeSpan.FromMilliseconds(60);

    /// <summary>A status reported instead of <c>processing</c> while running (to test unknown statuses).</summary>
    public string? RunningStatus { get; init; }

    /// <summary>Whether the prediction fails instead of succeeding, with this error.</summary>
    public string? FailWith { get; init; }

    /// <summary>The output shape.</summary>
    public FakeOutputKind Output { get; init; } = FakeOutputKind.FileArray;

    /// <summary>How many files are made when the input has no <c>num_outputs</c>.</summary>
    public int Files { get; init; } = 1;

    /// <summary>The file extension of outputs.</summary>
    public string Extension { get; init; } = ".png";

    /// <summary>
    /// Makes the bytes of output file <c>index</c> from the prediction's input (e.g. a real PNG or an MP4 header), instead
    /// of <see cref="FakeReplicateServer.MakeFile"/>'s magic number and filler.
    /// </summary>
    public Func<System.Text.Json.Nodes.JsonObject, int, byte[]>? Content { get; init; }

    /// <summary>The tokens an LLM emits.</summary>
    public IReadOnlyList<string> Tokens { get; init; } = [];

    /// <summary>The <c>metrics.predict_time</c> reported.</summary>
    public double PredictTime { get; init; } = 1.5;

    /// <summary>The <c>metrics.input_token_count</c> reported (LLMs).</summary>
    public int? InputTokens { get; init; }

    /// <summary>Inputs that must be present, else 422.</summary>
    public IReadOnlyList<string> RequiredInputs { get; init; } = ["prompt"];
}

/// <summary>A fault the fake injects into the next matching request.</summary>
public sealed record FakeFault
{
    /// <summary>Answer with this status instead of handling the request.</summary>
    public int Status { get; init; }

    /// <summary>The problem+json body.</summary>
    public string? Body { get; init; }

    /// <summary>Extra response headers.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>For creates: make the prediction first, then fail (abort the connection, answer <see cref="Status"/>, or hang).</summary>
    public bool AfterCreate { get; init; }

    /// <summary>Abort the connection instead of answering.</summary>
    public bool Abort { get; init; }

    /// <summary>Hang this long before answering.</summary>
    public TimeSpan Hang { get; init; }

    /// <summary>A problem+json answer.</summary>
    public static FakeFault Problem(int status, string detail, IReadOnlyDictionary<string, string>? headers = null, string? extraJson = null) => new()
    {
        Status = status,
        Body = $$"""{"detail":{{System.Text.Json.JsonSerializer.Serialize(detail)}},"status":{{status}}{{(extraJson is null ? "" : "," + extraJson)}}}""",
        Headers = headers ?? new Dictionary<string, string>(),
    };
}

/// <summary>A request the fake saw.</summary>
/// <param name="Operation">The operation (create, get, list, cancel, upload, file, download, stream, webhook).</param>
/// <param name="Method">The HTTP method.</param>
/// <param name="Path">The path and query.</param>
/// <param name="Timestamp">When it arrived (<see cref="TimeProvider.GetTimestamp"/> of the system clock).</param>
/// <param name="Headers">Its headers.</param>
/// <param name="Body">Its body as text (JSON requests only).</param>
public sealed record RecordedRequest(string Operation, string Method, string Path, long Timestamp, IReadOnlyDictionary<string, string> Headers, string? Body)
{
    /// <summary>A header's value, or null.</summary>
    public string? Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out var v) ? v : null;
}
