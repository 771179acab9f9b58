using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;

namespace Checkpointing.Tests.Support;

/// <summary>
/// An in-memory generation backend: jobs finish when awaited. Text models return the prompt's "text" input,
/// image models a PNG-signed payload, video models an MP4-signed payload; all deterministic from the input.
/// </summary>
public sealed class FakeBackend : IGenerationBackend
{
    private readonly ConcurrentDictionary<string, GenerationRequest> _jobs = new();
    private readonly ConcurrentDictionary<string, GenerationResult> _finished = new();
    private int _next;

    public string Name => "fake";

    /// <summary>Every request submitted, in order.</summary>
    public ConcurrentQueue<GenerationRequest> Submitted { get; } = new();

    /// <summary>Job ids waited on, in order.</summary>
    public ConcurrentQueue<string> Waited { get; } = new();

    /// <summary>Job ids cancelled.</summary>
    public ConcurrentQueue<string> Cancelled { get; } = new();

    /// <summary>When it returns a message for a request, that job fails with it.</summary>
    public Func<GenerationRequest, string?> FailWhen { get; set; } = _ => null;

    /// <summary>Awaited before a job completes (e.g. to block until a test releases it).</summary>
    public Func<GenerationRequest, CancellationToken, Task> BeforeComplete { get; set; } = (_, _) => Task.CompletedTask;

    public decimal CostPerJob { get; set; } = 0.025m;

    /// <summary>Makes a job submitted elsewhere (another process's client) known, as a real provider would.</summary>
    public void Adopt(string jobId, GenerationRequest request) => _jobs[jobId] = request;

    /// <summary>Every job this client knows, by id.</summary>
    public IReadOnlyDictionary<string, GenerationRequest> Jobs => _jobs;

    public GenerationRequest RequestOf(string jobId) => _jobs[jobId];

    public int SubmitCount(Func<GenerationRequest, bool>? where = null) => Submitted.Count(where ?? (_ => true));

    public Task<string> SubmitAsync(GenerationRequest request, CancellationToken cancellationToken = default)
    {
        var id = $"job-{Interlocked.Increment(ref _next)}";
        _jobs[id] = request;
        Submitted.Enqueue(request);
        return Task.FromResult(id);
    }

    public async Task<GenerationResult> WaitAsync(string jobId, CancellationToken cancellationToken = default)
    {
        Waited.Enqueue(jobId);
        if (!_jobs.TryGetValue(jobId, out var request))
        {
            throw new GenerationException($"Unknown job {jobId}.", jobId);
        }

        // Stopping the wait leaves the job running, as the backend contract says; only CancelAsync cancels it.
        await BeforeComplete(request, cancellationToken);

        // A finished job keeps its outcome, as at a real provider.
        return _finished.GetOrAdd(jobId, _ => Complete(jobId, request));
    }

    private GenerationResult Complete(string jobId, GenerationRequest request)
    {
        if (FailWhen(request) is { } error)
        {
            return new GenerationResult(jobId, GenerationStatus.Failed, [], 0m, error);
        }

        var prompt = request.Input["prompt"]?.GetValue<string>() ?? "";
        IReadOnlyList<GenerationOutput> outputs = request.Model switch
        {
            var m when m.StartsWith("llm", StringComparison.Ordinal) => [new TextOutput(request.Input["text"]?.GetValue<string>() ?? prompt)],
            var m when m.StartsWith("image", StringComparison.Ordinal) => [File(jobId, Png(prompt + "|" + request.Input["seed"]), "image/png")],
            _ => [File(jobId, Mp4(request.Model + "|" + prompt + "|" + request.Input["image"]), "video/mp4")],
        };
        return new GenerationResult(jobId, GenerationStatus.Succeeded, outputs, CostPerJob);
    }

    public Task CancelAsync(string jobId, CancellationToken cancellationToken = default)
    {
        Cancelled.Enqueue(jobId);
        return Task.CompletedTask;
    }

    public static byte[] Png(string seed) => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, .. Encoding.UTF8.GetBytes("fake-image:" + seed)];

    public static byte[] Mp4(string seed) => [0, 0, 0, 24, .. "ftypisom"u8.ToArray(), 0, 0, 2, 0, .. Encoding.UTF8.GetBytes("fake-video:" + seed)];

    private static FileOutput File(string jobId, byte[] bytes, string mediaType) =>
        new(new Uri($"https://fake.invalid/{jobId}"), mediaType, _ => Task.FromResult<Stream>(new MemoryStream(bytes, writable: false)));
}
