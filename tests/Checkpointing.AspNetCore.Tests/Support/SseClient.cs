using System.Text;

namespace Checkpointing.AspNetCore.Tests.Support;

/// <summary>One SSE item as it arrived on the wire.</summary>
public sealed record SseFrame(string? Event, string? Id, string Data, string Raw);

/// <summary>
/// Reads a text/event-stream response by the rules of the HTML standard (fields, multi-line data, blank-line
/// dispatch), keeping each item's raw text so the serialization itself can be asserted.
/// </summary>
public sealed class SseClient : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;

    private SseClient(HttpResponseMessage response, StreamReader reader)
    {
        _response = response;
        _reader = reader;
    }

    public HttpResponseMessage Response => _response;

    public static async Task<SseClient> ConnectAsync(HttpClient client, string url, string? lastEventId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Http.Ct);
        response.EnsureSuccessStatusCode();
        var stream = await response.Content.ReadAsStreamAsync(Http.Ct);
        return new SseClient(response, new StreamReader(stream, Encoding.UTF8));
    }

    public async Task<SseFrame> NextAsync(TimeSpan? timeout = null)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Http.Ct);
        cts.CancelAfter(timeout ?? TimeSpan.FromSeconds(30));
        string? type = null, id = null;
        var data = new List<string>();
        var raw = new StringBuilder();
        while (true)
        {
            var line = await _reader.ReadLineAsync(cts.Token) ?? throw new EndOfStreamException("The event stream ended.");
            raw.Append(line).Append('\n');
            if (line.Length == 0)
            {
                if (data.Count == 0 && type is null && id is null)
                {
                    raw.Clear();
                    continue;
                }

                return new SseFrame(type, id, string.Join("\n", data), raw.ToString());
            }

            if (line.StartsWith(':'))
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.StartsWith(' '))
            {
                value = value[1..];
            }

            switch (field)
            {
                case "event": type = value; break;
                case "id": id = value; break;
                case "data": data.Add(value); break;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        await Task.CompletedTask;
    }
}
