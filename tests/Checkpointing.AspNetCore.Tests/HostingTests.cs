using System.Net;
using Checkpointing.AspNetCore.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using P = Checkpointing.AspNetCore.CheckpointingProblemTypes;

namespace Checkpointing.AspNetCore.Tests;

public sealed class HostingTests
{
    [Fact]
    public async Task The_review_page_is_served_from_the_package_with_the_api_address_and_a_strict_policy()
    {
        await using var host = await ApiHost.StartAsync(StoreKind.Sqlite);
        using var client = host.Client("alice");

        var redirect = await new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = host.Root }
            .SendAsync(new HttpRequestMessage(HttpMethod.Get, "review") { Headers = { { ApiHost.UserHeader, "alice" } } }, Http.Ct);
        Assert.Equal(HttpStatusCode.Redirect, redirect.StatusCode);
        Assert.Equal("/review/", redirect.Headers.Location?.OriginalString);

        var page = await client.GetAsync("review/", Http.Ct);
        var html = await page.Content.ReadAsStringAsync(Http.Ct);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<meta name=\"checkpointing-api\" content=\"/api\">", html, StringComparison.Ordinal);
        Assert.Contains("<base href=\"/review/\">", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http", html.Replace("http-equiv", "", StringComparison.Ordinal), StringComparison.Ordinal); // no CDN
        var csp = page.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);

        foreach (var (file, type) in new[] { ("review.js", "text/javascript"), ("review.css", "text/css"), ("icon.svg", "image/svg+xml") })
        {
            var asset = await client.GetAsync($"review/{file}", Http.Ct);
            Assert.Equal(HttpStatusCode.OK, asset.StatusCode);
            Assert.Equal(type, asset.Content.Headers.ContentType?.MediaType);
            var again = new HttpRequestMessage(HttpMethod.Get, $"review/{file}");
            again.Headers.IfNoneMatch.Add(asset.Headers.ETag!);
            Assert.Equal(HttpStatusCode.NotModified, (await client.SendAsync(again, Http.Ct)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("review/missing.js", Http.Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Client(null).GetAsync("review/", Http.Ct)).StatusCode);
    }

    [Fact]
    public async Task Without_required_authorization_a_caller_the_resolver_does_not_know_gets_401_owner_unknown()
    {
        await using var host = await ApiHost.StartAsync(StoreKind.Sqlite, endpoints: o =>
        {
            o.RequireAuthorization = false;
            o.OwnerResolver = http => http.Request.Headers["X-Owner"].ToString() is { Length: > 0 } owner ? owner : null;
        });
        using var anonymous = host.Client(null);
        await (await anonymous.GetAsync("api/runs", Http.Ct)).ProblemAsync(401, P.OwnerUnknown);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("review/", Http.Ct)).StatusCode);

        anonymous.DefaultRequestHeaders.Add("X-Owner", "carol");
        var (runId, _) = await ApiTests.StartAsync(anonymous, beats: 1);
        var run = await (await anonymous.GetAsync($"api/runs/{runId}", Http.Ct)).JsonAsync();
        Assert.Equal("carol", run.GetProperty("run").GetProperty("ownerId").GetString());
    }

    [Fact]
    public async Task Invalid_options_fail_at_start_up_with_every_error_named()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddCheckpointing();
        builder.Services.AddCheckpointingEndpoints(o =>
        {
            o.MaxUploadRequestBytes = 10;
            o.MaxJsonBodyBytes = 0;
            o.MaxRunsListed = 0;
            o.AuthorizationPolicy = " ";
        });
        await using var app = builder.Build();
        var e = Assert.Throws<OptionsValidationException>(() => app.MapCheckpointing("/api"));
        Assert.Equal(
            [
                "CheckpointingEndpointOptions.MaxUploadRequestBytes is 10; set it between 1024 (1 KiB) and 17179869184 (16 GiB).",
                "CheckpointingEndpointOptions.MaxJsonBodyBytes is 0; set it between 1024 (1 KiB) and 67108864 (64 MiB).",
                "CheckpointingEndpointOptions.MaxRunsListed is 0; set it between 1 and 10000.",
                "CheckpointingEndpointOptions.AuthorizationPolicy is blank; set a policy name or null for the default policy.",
            ],
            e.Failures);
        var startup = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(Http.Ct));
        Assert.Equal(4, startup.Failures.Count());
    }

    [Fact]
    public void Mapping_without_the_sdk_says_what_to_call()
    {
        var builder = WebApplication.CreateSlimBuilder();
        using var app = builder.Build();
        var e = Assert.Throws<InvalidOperationException>(() => app.MapCheckpointing("/api"));
        Assert.Contains("AddCheckpointing", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_default_owner_is_the_name_identifier_claim_else_the_authenticated_name()
    {
        var http = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        Assert.Null(CheckpointingEndpointOptions.DefaultOwner(http));
        http.User = new System.Security.Claims.ClaimsPrincipal(new System.Security.Claims.ClaimsIdentity([new System.Security.Claims.Claim(System.Security.Claims.ClaimTypes.Name, "dana")], "cookie"));
        Assert.Equal("dana", CheckpointingEndpointOptions.DefaultOwner(http));
        http.User = new System.Security.Claims.ClaimsPrincipal(new System.Security.Claims.ClaimsIdentity([new System.Security.Claims.Claim(System.Security.Claims.ClaimTypes.NameIdentifier, "id-7"), new System.Security.Claims.Claim(System.Security.Claims.ClaimTypes.Name, "dana")], "cookie"));
        Assert.Equal("id-7", CheckpointingEndpointOptions.DefaultOwner(http));
        var options = new CheckpointingEndpointOptions();
        Assert.True(options.RequireAuthorization);
        Assert.Equal(256L * 1024 * 1024, options.MaxUploadRequestBytes);
        Assert.Equal(1024 * 1024, options.MaxJsonBodyBytes);
        Assert.Equal(100, options.MaxRunsListed);
        Assert.Null(options.AuthorizationPolicy);
    }
}
