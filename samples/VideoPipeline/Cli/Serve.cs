using System.CommandLine;
using Checkpointing;
using Checkpointing.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using VideoPipeline.Hosting;

namespace VideoPipeline.Cli;

/// <summary>
/// <c>serve</c>: the review API (<c>/api</c>), its OpenAPI document (<c>/openapi/v1.json</c>) and the review page
/// (<c>/review/</c>) over the configured store, blob store and backend, until Ctrl+C.
/// </summary>
public static class Serve
{
    public const string DefaultUrls = "http://127.0.0.1:5080";

    public static Command Command()
    {
        var urls = new Option<string>("--urls") { Description = $"Where to listen. Default: {DefaultUrls} (port 0 picks a free one).", DefaultValueFactory = _ => DefaultUrls };
        var command = new Command("serve", "Serve the review page and its API over the configured store and backend (a local, single-user tool: every run is yours).");
        command.Options.Add(urls);
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                return await RunAsync(parse.GetValue(urls)!, parse.GetValue<string?>("--data"), ct);
            }
            catch (Exception e) when (e is CheckpointingException or ConfigurationException or OptionsValidationException or IOException or UsageException)
            {
                Ui.Error(e is OptionsValidationException o ? string.Join(" ", o.Failures) : e.Message);
                return 1;
            }
        });
        return command;
    }

    private static async Task<int> RunAsync(string urls, string? data, CancellationToken ct)
    {
        if (!Uri.TryCreate(urls.Split(';')[0], UriKind.Absolute, out var first) || first.Scheme is not ("http" or "https"))
        {
            throw new UsageException($"--urls '{urls}' is not an http address; give e.g. {DefaultUrls}.");
        }

        // 1. The same services as every command (configuration, logging, the SDK), on a web application.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "VideoPipeline", ContentRootPath = AppContext.BaseDirectory });
        AppHost.Configure(builder, data);
        builder.WebHost.UseUrls(urls);

        // 2. The endpoints: a local tool without sign-in, so every request acts as the OS user, who owns the runs
        //    that the other commands start. A shared deployment would authenticate and resolve the owner from claims.
        builder.Services.AddCheckpointingEndpoints(o =>
        {
            o.RequireAuthorization = false;
            o.OwnerResolver = _ => Session.User;
            o.QueueContinuations = true;
        });
        builder.Services.AddOpenApi();

        // 3. A worker in the same process: continue returns at once (202) and the phase runs here in the background.
        builder.Services.AddCheckpointingWorker();

        await using var app = builder.Build();
        AppHost.Validate(app.Services);
        app.MapOpenApi();
        app.MapCheckpointing("/api");
        app.MapCheckpointReview("/review", "/api");
        app.MapGet("/", () => Results.Redirect("/review/")).ExcludeFromDescription();

        await app.StartAsync(ct);
        var address = app.Urls.First().TrimEnd('/');
        Console.Out.WriteLine($"review page: {address}/review/");
        Console.Out.WriteLine($"api: {address}/api (OpenAPI: {address}/openapi/v1.json); Ctrl+C stops");
        await Console.Out.FlushAsync(ct);
        try
        {
            // Ctrl+C reaches either the command line's token or the host's lifetime: stop on both.
            using var stopping = CancellationTokenSource.CreateLinkedTokenSource(ct, app.Lifetime.ApplicationStopping);
            await Task.Delay(Timeout.Infinite, stopping.Token);
        }
        catch (OperationCanceledException)
        {
        }

        await app.StopAsync(CancellationToken.None);
        return 0;
    }
}
