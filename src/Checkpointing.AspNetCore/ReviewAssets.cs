using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;

namespace Checkpointing.AspNetCore;

/// <summary>The review page's files, embedded in the assembly and served from memory with ETags.</summary>
internal static class ReviewAssets
{
    private const string ResourcePrefix = "Checkpointing.AspNetCore.Review.";

    private static readonly FrozenDictionary<string, string> Types = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        [".html"] = "text/html; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".svg"] = "image/svg+xml",
    }.ToFrozenDictionary();

    public static RouteGroupBuilder Map(IEndpointRouteBuilder endpoints, string prefix, string api)
    {
        var files = Load(prefix, api);
        var group = endpoints.MapGroup(prefix).ExcludeFromDescription();
        group.MapGet("/", (HttpContext http) =>
            http.Request.Path.Value is { } path && !path.EndsWith('/')
                ? Results.Redirect(http.Request.PathBase + path + "/" + http.Request.QueryString) // relative asset URLs need the slash
                : Serve(http, files["index.html"]));
        group.MapGet("/{file}", (HttpContext http, string file) =>
            files.TryGetValue(file, out var asset) ? Serve(http, asset) : Results.NotFound());
        return group;
    }

    private static IResult Serve(HttpContext http, Asset asset)
    {
        var headers = http.Response.Headers;
        headers.ETag = asset.ETag;
        headers.CacheControl = "no-cache";
        headers.XContentTypeOptions = "nosniff";
        headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data: blob: https: http:; media-src 'self' blob: https: http:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";
        if (http.Request.Headers.IfNoneMatch.ToString() == asset.ETag)
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        return Results.Bytes(asset.Bytes, asset.ContentType);
    }

    private static Dictionary<string, Asset> Load(string prefix, string api)
    {
        var assembly = typeof(ReviewAssets).Assembly;
        var files = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            var file = name[ResourcePrefix.Length..];
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var bytes = buffer.ToArray();
            if (file == "index.html")
            {
                // The page finds the API through this meta tag, so it works under any prefix and path base.
                var html = Encoding.UTF8.GetString(bytes).Replace("{{api}}", System.Net.WebUtility.HtmlEncode(api), StringComparison.Ordinal)
                    .Replace("{{base}}", System.Net.WebUtility.HtmlEncode(prefix + "/"), StringComparison.Ordinal);
                bytes = Encoding.UTF8.GetBytes(html);
            }

            var type = Types.GetValueOrDefault(Path.GetExtension(file), "application/octet-stream");
            files[file] = new Asset(bytes, type, $"\"{Convert.ToHexStringLower(SHA256.HashData(bytes))[..20]}\"");
        }

        return files;
    }

    private sealed record Asset(byte[] Bytes, string ContentType, string ETag);
}
