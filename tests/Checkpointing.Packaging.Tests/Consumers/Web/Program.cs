// A minimal web app that maps the SDK's endpoints on the SQLite store and answers one request: starting a run.
using System.Net.Http.Json;
using System.Text.Json;
using Checkpointing;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.UseUrls("http://127.0.0.1:0");
builder.Services.AddCheckpointing(b => b
    .AddPipeline("notes", p => p.AddPhase(new NotePhase()))
    .UseSqlite(args[0]));
builder.Services.AddCheckpointingEndpoints(o =>
{
    o.RequireAuthorization = false; // a local single-user tool
    o.OwnerResolver = _ => "local";
});

var app = builder.Build();
app.MapCheckpointing("/api");
await app.StartAsync();

var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
using var http = new HttpClient { BaseAddress = new Uri(address) };
using var response = await http.PostAsJsonAsync("/api/runs", new { pipeline = "notes", input = new { text = "hello" } });
var run = await response.Content.ReadFromJsonAsync<JsonElement>();
Console.WriteLine($"POST /api/runs: {(int)response.StatusCode} {run.GetProperty("status").GetString()} owner {run.GetProperty("ownerId").GetString()}");
Console.WriteLine($"Location: {response.Headers.Location?.OriginalString.StartsWith("/api/runs/", StringComparison.Ordinal)}");
await app.StopAsync();

internal sealed class NotePhase() : Phase("note")
{
    public override IReadOnlyList<ArtifactSpec> Artifacts { get; } = [new ArtifactSpec("note")];

    public override Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken) =>
        Task.FromResult(new PhaseResult([new PhaseArtifact("note", "note", ArtifactContent.FromJson(context.Run.Input))]));
}
