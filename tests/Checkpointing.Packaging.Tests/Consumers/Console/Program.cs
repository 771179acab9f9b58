// A two-phase pipeline on the SQLite store: start, patch the outline, continue onto a new branch, complete.
using System.Text.Json;
using Checkpointing;
using Microsoft.Extensions.DependencyInjection;

var services = new ServiceCollection();
services.AddCheckpointing(b => b
    .AddPipeline("story", p => p.AddPhase(new OutlinePhase()).AddPhase(new DraftPhase()))
    .UseSqlite(args[0]));
await using var provider = services.BuildServiceProvider(validateScopes: true);
var runner = provider.GetRequiredService<CheckpointRunner>();
var editor = provider.GetRequiredService<CheckpointEditor>();
var queries = provider.GetRequiredService<CheckpointQueries>();

var started = await runner.StartAsync(new StartRunRequest("story", "reader", JsonSerializer.SerializeToElement(new { topic = "a lighthouse" })));
var outline = started.Checkpoint!;
Console.WriteLine($"started: {started.Status} at phase {outline.Phase} on {outline.Branch}");

var edit = await editor.PatchJsonAsync(outline.Id, "outline", "outline", """{"title":"The last keeper"}""");
Console.WriteLine($"patched: outline v{edit.Artifact.Version}");

var next = await runner.ContinueAsync(outline.Id);
Console.WriteLine($"continued: phase {next.NextPhase} on {next.Branch} (new branch: {next.BranchCreated})");
Console.WriteLine($"finished: {next.Status}");

var draft = (await queries.GetCheckpointAsync(next.Checkpoint!.Id)).Artifacts.Single(v => v.Artifact.Type == "draft").Artifact;
Console.WriteLine($"draft: {draft.Content.Json!.Value.GetProperty("text").GetString()}");

internal sealed class OutlinePhase() : Phase("outline")
{
    public override IReadOnlyList<ArtifactSpec> Artifacts { get; } =
        [new ArtifactSpec("outline") { AllowedEdits = EditKinds.PatchJson, IsPhaseOutput = true }];

    public override Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken)
    {
        var topic = context.Run.Input.GetProperty("topic").GetString();
        var outline = JsonSerializer.SerializeToElement(new { title = "Untitled", topic });
        return Task.FromResult(new PhaseResult([new PhaseArtifact("outline", "outline", ArtifactContent.FromJson(outline))], outline));
    }
}

internal sealed class DraftPhase() : Phase("draft")
{
    public override IReadOnlyList<ArtifactSpec> Artifacts { get; } = [new ArtifactSpec("draft")];

    public override async Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken)
    {
        var outline = await context.ReadJsonInputAsync<JsonElement>("outline", "outline", cancellationToken: cancellationToken);
        var text = $"{outline.GetProperty("title").GetString()}, about {outline.GetProperty("topic").GetString()}";
        var draft = JsonSerializer.SerializeToElement(new { text });
        return new PhaseResult([new PhaseArtifact("draft", "draft", ArtifactContent.FromJson(draft))], draft);
    }
}
