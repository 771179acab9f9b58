using System.Collections.Concurrent;
using System.Net;
using Amazon.Runtime;

namespace Checkpointing.S3.Tests;

/// <summary>
/// Plugs a <see cref="DelegatingHandler"/> into the AWS SDK (through <see cref="ClientConfig.HttpClientFactory"/>) that
/// records every request the SDK sends and the status it got, over the real sockets to the server. It also counts how
/// many part uploads (<c>PUT …?partNumber=…</c>) are in flight at once, can hold each of them for <see cref="PartDelay"/>
/// so that parallel ones overlap, and can run <see cref="BeforeSend"/> before a request goes out.
/// </summary>
internal sealed class RecordingHttpClientFactory : HttpClientFactory, IDisposable
{
    private readonly RecordingHandler _handler = new() { InnerHandler = new SocketsHttpHandler() };

    public IReadOnlyCollection<Exchange> Exchanges => _handler.Exchanges;

    /// <summary>How long each part upload is held before it is sent; default none.</summary>
    public TimeSpan PartDelay { get => _handler.PartDelay; set => _handler.PartDelay = value; }

    /// <summary>Runs before each request is sent (e.g. to write an object in between the store's requests).</summary>
    public Func<HttpRequestMessage, Task>? BeforeSend { get => _handler.BeforeSend; set => _handler.BeforeSend = value; }

    /// <summary>The most part uploads that were in flight at the same time.</summary>
    public int MaxPartsInFlight => _handler.MaxPartsInFlight;

    public override HttpClient CreateHttpClient(IClientConfig clientConfig) => new(_handler, disposeHandler: false);

    public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => false;

    public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => false;

    public override string GetConfigUniqueString(IClientConfig clientConfig) => "recording";

    public void Dispose() => _handler.Dispose();

    public sealed record Exchange(HttpMethod Method, string Path, string Query, HttpStatusCode? Status);

    private sealed class RecordingHandler : DelegatingHandler
    {
        private int _partsInFlight;
        private int _maxPartsInFlight;

        public ConcurrentQueue<Exchange> Exchanges { get; } = new();

        public TimeSpan PartDelay { get; set; }

        public Func<HttpRequestMessage, Task>? BeforeSend { get; set; }

        public int MaxPartsInFlight => Volatile.Read(ref _maxPartsInFlight);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var uri = request.RequestUri!;
            var isPart = request.Method == HttpMethod.Put && uri.Query.Contains("partNumber=", StringComparison.Ordinal);
            if (isPart)
            {
                var now = Interlocked.Increment(ref _partsInFlight);
                int max;
                while (now > (max = Volatile.Read(ref _maxPartsInFlight)) && Interlocked.CompareExchange(ref _maxPartsInFlight, now, max) != max)
                {
                }
            }

            try
            {
                if (BeforeSend is { } before)
                {
                    await before(request);
                }

                if (isPart && PartDelay > TimeSpan.Zero)
                {
                    await Task.Delay(PartDelay, cancellationToken);
                }

                var response = await base.SendAsync(request, cancellationToken);
                Exchanges.Enqueue(new Exchange(request.Method, Uri.UnescapeDataString(uri.AbsolutePath), uri.Query, response.StatusCode));
                return response;
            }
            catch
            {
                Exchanges.Enqueue(new Exchange(request.Method, Uri.UnescapeDataString(uri.AbsolutePath), uri.Query, null));
                throw;
            }
            finally
            {
                if (isPart)
                {
                    Interlocked.Decrement(ref _partsInFlight);
                }
            }
        }
    }
}
