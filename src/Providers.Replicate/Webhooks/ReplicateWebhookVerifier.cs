using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Checkpointing.Providers.Replicate;

/// <summary>
/// Verifies signed webhook deliveries from Replicate (Standard Webhooks: <c>webhook-id</c>, <c>webhook-timestamp</c>,
/// <c>webhook-signature</c>; HMAC-SHA256 over <c>id.timestamp.body</c>). It needs no ASP.NET reference: pass a header
/// lookup and the raw body bytes, e.g. <c>verifier.Verify(name =&gt; request.Headers[name], body)</c>.
/// </summary>
/// <remarks>Remembers verified delivery ids for twice the tolerance, so a retried delivery is reported as a duplicate.</remarks>
public sealed class ReplicateWebhookVerifier
{
    /// <summary>The header holding the delivery id: <c>webhook-id</c>.</summary>
    public const string IdHeader = "webhook-id";

    /// <summary>The header holding the Unix time of the delivery: <c>webhook-timestamp</c>.</summary>
    public const string TimestampHeader = "webhook-timestamp";

    /// <summary>The header holding space-separated <c>v1,&lt;base64&gt;</c> signatures: <c>webhook-signature</c>.</summary>
    public const string SignatureHeader = "webhook-signature";

    private const string SecretPrefix = "whsec_";
    private readonly byte[] _key;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _seen = new(StringComparer.Ordinal);

    /// <summary>Creates a verifier.</summary>
    /// <param name="secret">The signing secret, <c>whsec_&lt;base64&gt;</c>.</param>
    /// <param name="timeProvider">The clock; default: the system clock.</param>
    /// <param name="tolerance">How far a delivery's timestamp may be from now; default: 5 minutes.</param>
    /// <exception cref="ArgumentException">The secret is not <c>whsec_</c> followed by base64.</exception>
    public ReplicateWebhookVerifier(string secret, TimeProvider? timeProvider = null, TimeSpan? tolerance = null)
    {
        if (!TryDecodeSecret(secret, out var key))
        {
            throw new ArgumentException("The webhook secret must be 'whsec_' followed by base64, as returned by GET /v1/webhooks/default/secret.", nameof(secret));
        }

        _key = key;
        _time = timeProvider ?? TimeProvider.System;
        Tolerance = tolerance ?? TimeSpan.FromMinutes(5);
        if (Tolerance <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "The tolerance must be positive.");
        }
    }

    /// <summary>How far a delivery's timestamp may be from now.</summary>
    public TimeSpan Tolerance { get; }

    /// <summary>Verifies a delivery, reading its headers through <paramref name="getHeader"/>.</summary>
    /// <param name="getHeader">Returns a header's value by name (case-insensitive), or null.</param>
    /// <param name="body">The raw body bytes exactly as received.</param>
    /// <returns>The verified delivery.</returns>
    /// <exception cref="ReplicateWebhookSignatureException">A header is missing, the timestamp is outside the tolerance, or no signature matches.</exception>
    public ReplicateWebhookDelivery Verify(Func<string, string?> getHeader, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(getHeader);
        return Verify(getHeader(IdHeader), getHeader(TimestampHeader), getHeader(SignatureHeader), body);
    }

    /// <summary>Verifies a delivery from its three header values.</summary>
    /// <param name="webhookId">The <c>webhook-id</c> header.</param>
    /// <param name="webhookTimestamp">The <c>webhook-timestamp</c> header.</param>
    /// <param name="webhookSignature">The <c>webhook-signature</c> header.</param>
    /// <param name="body">The raw body bytes exactly as received.</param>
    /// <returns>The verified delivery.</returns>
    /// <exception cref="ReplicateWebhookSignatureException">A header is missing, the timestamp is outside the tolerance, or no signature matches.</exception>
    public ReplicateWebhookDelivery Verify(string? webhookId, string? webhookTimestamp, string? webhookSignature, ReadOnlySpan<byte> body)
    {
        if (string.IsNullOrWhiteSpace(webhookId) || string.IsNullOrWhiteSpace(webhookTimestamp) || string.IsNullOrWhiteSpace(webhookSignature))
        {
            throw new ReplicateWebhookSignatureException($"the {IdHeader}, {TimestampHeader} and {SignatureHeader} headers are all required");
        }

        if (!long.TryParse(webhookTimestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            throw new ReplicateWebhookSignatureException($"the {TimestampHeader} header '{webhookTimestamp}' is not Unix seconds");
        }

        var now = _time.GetUtcNow();
        var timestamp = DateTimeOffset.FromUnixTimeSeconds(seconds);
        if ((now - timestamp).Duration() > Tolerance)
        {
            throw new ReplicateWebhookSignatureException($"its timestamp {timestamp:O} is more than {Tolerance} from now ({now:O})");
        }

        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        ComputeSignature(_key, webhookId, seconds, body, expected);
        Span<byte> candidate = stackalloc byte[HMACSHA256.HashSizeInBytes];
        var matched = false;
        foreach (var entry in webhookSignature.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!entry.StartsWith("v1,", StringComparison.Ordinal))
            {
                continue;
            }

            candidate.Clear();
            if (Convert.TryFromBase64String(entry[3..], candidate, out var written) && written == candidate.Length
                && CryptographicOperations.FixedTimeEquals(candidate, expected))
            {
                matched = true;
            }
        }

        if (!matched)
        {
            throw new ReplicateWebhookSignatureException("no v1 signature in the webhook-signature header matches the body");
        }

        Prune(now);
        var duplicate = !_seen.TryAdd(webhookId, now);
        return new ReplicateWebhookDelivery(webhookId, timestamp, duplicate);
    }

    /// <summary>Computes the <c>v1,&lt;base64&gt;</c> signature of a delivery (for tests and tools that send deliveries).</summary>
    /// <param name="secret">The signing secret, <c>whsec_&lt;base64&gt;</c>.</param>
    /// <param name="webhookId">The delivery id.</param>
    /// <param name="timestamp">The Unix time in seconds.</param>
    /// <param name="body">The body bytes.</param>
    /// <returns>The signature header entry.</returns>
    public static string Sign(string secret, string webhookId, long timestamp, ReadOnlySpan<byte> body)
    {
        if (!TryDecodeSecret(secret, out var key))
        {
            throw new ArgumentException("The webhook secret must be 'whsec_' followed by base64.", nameof(secret));
        }

        ArgumentException.ThrowIfNullOrEmpty(webhookId);
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        ComputeSignature(key, webhookId, timestamp, body, mac);
        return "v1," + Convert.ToBase64String(mac);
    }

    internal static bool TryDecodeSecret(string? secret, [NotNullWhen(true)] out byte[]? key)
    {
        key = null;
        if (string.IsNullOrWhiteSpace(secret))
        {
            return false;
        }

        var encoded = secret.StartsWith(SecretPrefix, StringComparison.Ordinal) ? secret[SecretPrefix.Length..] : secret;
        var buffer = new byte[encoded.Length];
        if (!Convert.TryFromBase64String(encoded, buffer, out var length) || length == 0)
        {
            return false;
        }

        key = buffer[..length];
        return true;
    }

    private static void ComputeSignature(byte[] key, string id, long timestamp, ReadOnlySpan<byte> body, Span<byte> destination)
    {
        var prefix = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{id}.{timestamp}."));
        var message = new byte[prefix.Length + body.Length];
        prefix.CopyTo(message, 0);
        body.CopyTo(message.AsSpan(prefix.Length));
        HMACSHA256.HashData(key, message, destination);
    }

    private void Prune(DateTimeOffset now)
    {
        if (_seen.Count < 1024)
        {
            return;
        }

        foreach (var (id, seenAt) in _seen)
        {
            if (now - seenAt > Tolerance * 2)
            {
                _seen.TryRemove(id, out _);
            }
        }
    }
}

/// <summary>A webhook delivery whose signature and timestamp checked out.</summary>
/// <param name="WebhookId">The delivery id (the same on retries).</param>
/// <param name="Timestamp">When it was sent.</param>
/// <param name="IsDuplicate">True when this id was verified before: answer 2xx and ignore it.</param>
public sealed record ReplicateWebhookDelivery(string WebhookId, DateTimeOffset Timestamp, bool IsDuplicate);

/// <summary>What <see cref="ReplicateBackend.HandleWebhookAsync"/> did with a delivery.</summary>
/// <param name="Delivery">The verified delivery.</param>
/// <param name="PredictionId">The prediction it reports on.</param>
/// <param name="Status">The prediction's status in the delivery.</param>
/// <param name="WokeWaiter">True when a <c>WaitAsync</c> on this prediction was woken to read its result now.</param>
public sealed record ReplicateWebhookReceipt(ReplicateWebhookDelivery Delivery, string PredictionId, string? Status, bool WokeWaiter);
