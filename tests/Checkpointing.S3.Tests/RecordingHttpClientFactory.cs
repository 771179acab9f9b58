using System.Collections.Concurrent;
using System.Net;
using Amazon.Runtime;

namespace Checkpointing.S3.Tests;

/// <summary>
/// Plugs a <see cref="DelegatingHandler"/> into the AWS SDK (through <see cref="ClientConfig.HttpClientFactory"/>) that
/// records every request the SDK sends and the status it got, over the real sockets to the server.
/// </summary>
internal sealed class RecordingHttpClientFactory : HttpClientFactory, IDisposable
{
    private readonly RecordingHandler _handler = new() { InnerHandler = new SocketsHttpHandler() };

    public IReadOnlyCollection<Exchange> Exchanges => _handler.Exchanges;

    public override HttpClient CreateHttpClient(IClientConfig clientConfig) => new(_handler, disposeHandler: false);

    public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => false;

    public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => false;

    public override string GetConfigUniqueString(IClientConfig clientConfig) => "recording";

    public void Dispose() => _handler.Dispose();

    public sealed record Exchange(HttpMethod Method, string Path, string Query, HttpStatusCode? Status);

    private sealed class RecordingHandler : DelegatingHandler
    {
        public ConcurrentQueue<Exchange> Exchanges { get; } = new();

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var uri = request.RequestUri!;
            try
            {
                var response = await base.SendAsync(request, cancellationToken);
                Exchanges.Enqueue(new Exchange(request.Method, Uri.UnescapeDataString(uri.AbsolutePath), uri.Query, response.StatusCode));
                return response;
            }
            catch
            {
                Exchanges.Enqueue(new Exchange(request.Method, Uri.UnescapeDataString(uri.AbsolutePath), uri.Query, null));
                throw;
            }
        }
    }
}
