using System.Net;
using System.Net.Sockets;

namespace Checkpointing.S3.Tests;

public sealed class S3ServerTests
{
    [Fact]
    public async Task Without_a_server_the_tests_fail_and_say_how_to_get_one()
    {
        // A port that was free a moment ago: nothing listens there.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => S3Server.EnsureAvailableAsync($"http://127.0.0.1:{port}", fromVariable: false));

        Assert.StartsWith($"No S3-compatible server answered at http://127.0.0.1:{port} (the local default; CHECKPOINTING_S3_URL is not set): ", e.Message, StringComparison.Ordinal);
        Assert.EndsWith(
            "Run ./test.sh, which starts a patched s3rver emulator, or set CHECKPOINTING_S3_URL, CHECKPOINTING_S3_ACCESS_KEY and CHECKPOINTING_S3_SECRET_KEY " +
            "to a server where you may create the bucket 'checkpointing-tests'.",
            e.Message,
            StringComparison.Ordinal);
    }
}
