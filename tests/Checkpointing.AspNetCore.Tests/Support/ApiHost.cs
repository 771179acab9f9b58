using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Checkpointing.AspNetCore;
using Checkpointing.Postgres.Tests;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Checkpointing.AspNetCore.Tests.Support;

public enum StoreKind
{
    Sqlite,
    Postgres,
}

/// <summary>
/// The API and review page on Kestrel at 127.0.0.1 (a free port), over a real store (a SQLite file or a PostgreSQL
/// schema of its own) and a file blob store, with the fake backend. Callers authenticate with the <c>X-Test-User</c>
/// header (a test authentication scheme); requests without it are anonymous.
/// </summary>
public sealed class ApiHost : IAsyncDisposable
{
    public const string UserHeader = "X-Test-User";

    private readonly WebApplication _app;
    private readonly string _folder;
    private readonly string? _schema;

    private ApiHost(WebApplication app, string folder, string? schema, Uri root)
    {
        _app = app;
        _folder = folder;
        _schema = schema;
        Root = root;
    }

    public Uri Root { get; }

    public IServiceProvider Services => _app.Services;

    public FakeBackend Backend => Services.GetRequiredService<FakeBackend>();

    public ICheckpointStore Store => Services.GetRequiredService<ICheckpointStore>();

    public IBlobStore Blobs => Services.GetRequiredService<IBlobStore>();

    public static async Task<ApiHost> StartAsync(
        StoreKind kind,
        Action<CheckpointingOptions>? sdk = null,
        Action<CheckpointingEndpointOptions>? endpoints = null)
    {
        var folder = Path.Combine(Path.GetTempPath(), "checkpointing-aspnet-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        string? schema = null;
        if (kind == StoreKind.Postgres)
        {
            await PostgresServer.RequireAsync();
            schema = "aspnet_" + Guid.NewGuid().ToString("N")[..16];
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        if (Environment.GetEnvironmentVariable("ASPNET_TESTS_LOG") == "1")
        {
            builder.Logging.AddConsole();
        }
        builder.Services.AddSingleton<FakeBackend>();
        builder.Services.AddCheckpointing(
            b =>
            {
                b.AddReviewPipeline().UseFileSystemBlobStore(o => o.RootPath = Path.Combine(folder, "blobs"));
                if (kind == StoreKind.Sqlite)
                {
                    b.UseSqlite($"Data Source={Path.Combine(folder, "checkpoints.db")}");
                }
                else
                {
                    b.UsePostgres(PostgresServer.ConnectionString, o => o.SchemaName = schema!);
                }
            },
            o =>
            {
                o.DefaultMaxConcurrency = 1;
                sdk?.Invoke(o);
            });
        builder.Services.AddAuthentication(TestAuthHandler.Name).AddScheme<AuthenticationSchemeOptions, TestAuthHandler>(TestAuthHandler.Name, null);
        builder.Services.AddAuthorization();
        builder.Services.AddOpenApi();
        builder.Services.AddCheckpointingEndpoints(o => endpoints?.Invoke(o));
        var queued = new CheckpointingEndpointOptions();
        endpoints?.Invoke(queued);
        if (queued.QueueContinuations)
        {
            builder.Services.AddCheckpointingWorker(o => o.PollInterval = TimeSpan.FromMilliseconds(100));
        }

        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapOpenApi();
        app.MapCheckpointing("/api");
        app.MapCheckpointReview("/review", "/api");
        await app.StartAsync();
        return new ApiHost(app, folder, schema, new Uri(app.Urls.First().TrimEnd('/') + "/"));
    }

    /// <summary>A client that authenticates as <paramref name="user"/> (or anonymously when null).</summary>
    public HttpClient Client(string? user = "alice")
    {
        var client = new HttpClient { BaseAddress = Root, Timeout = TimeSpan.FromMinutes(3) };
        if (user is not null)
        {
            client.DefaultRequestHeaders.Add(UserHeader, user);
        }

        client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return client;
    }

    public Task<string> SnapshotAsync(Guid runId) => StoreSnapshot.CaptureAsync(Store, runId, Blobs);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (_schema is not null)
        {
            await using var data = NpgsqlDataSource.Create(PostgresServer.ConnectionString);
            await using var command = data.CreateCommand($"DROP SCHEMA IF EXISTS \"{_schema}\" CASCADE;");
            await command.ExecuteNonQueryAsync();
        }

        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Authenticates the caller named in <see cref="UserHeader"/>.</summary>
    private sealed class TestAuthHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        public const string Name = "Test";

        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            if (Request.Headers[UserHeader].ToString() is not { Length: > 0 } user)
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            var identity = new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, user), new Claim(ClaimTypes.Name, user)], Name);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Name)));
        }
    }
}
