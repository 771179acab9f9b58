using System.Text.Json;
using Checkpointing;

namespace VideoPipeline.Phases;

/// <summary>Phase 4 (terminal): joins the clips in beat order into the final video (<c>final</c>/<c>final</c>). No edits.</summary>
public sealed class AssemblePhase(VideoAssembler assembler) : Phase("assemble")
{
    public const string ArtifactType = "final";

    public override IReadOnlyList<ArtifactSpec> Artifacts { get; } = [new ArtifactSpec(ArtifactType)];

    public override async Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken)
    {
        var pins = await context.GetInputPinsAsync(ChunksPhase.ArtifactType, cancellationToken);
        if (pins.Count == 0)
        {
            throw new InvalidStateException("There are no clips to assemble; continue a chunks checkpoint.");
        }

        var folder = Directory.CreateTempSubdirectory("videopipeline-assemble-");
        try
        {
            var clips = new List<string>();
            foreach (var pin in pins)
            {
                var (stream, _) = await context.OpenInputAsync(pin.Type, pin.Key, cancellationToken);
                var path = Path.Combine(folder.FullName, pin.Key);
                await using (stream)
                await using (var file = File.Create(path))
                {
                    await stream.CopyToAsync(file, cancellationToken);
                }

                clips.Add(path);
            }

            var final = await assembler.AssembleAsync(clips, Path.Combine(folder.FullName, "final"), cancellationToken);
            BlobReference blob;
            await using (var file = File.OpenRead(final.Path))
            {
                blob = await context.PutBlobAsync(file, cancellationToken: cancellationToken);
            }

            var output = JsonSerializer.SerializeToElement(new
            {
                clips = pins.Count,
                media_type = blob.MediaType,
                format = final.Format,
                frames = final.Frames,
                bytes = blob.Size,
            });
            return new PhaseResult([new PhaseArtifact(ArtifactType, ArtifactType, ArtifactContent.FromBlob(blob))], output);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
