using Checkpointing;
using Microsoft.Extensions.Options;
using SkiaSharp;
using VideoPipeline.Media;
using VideoPipeline.Studio;

namespace VideoPipeline.Phases;

/// <summary>
/// Joins clips into the final cut: with ffmpeg, an MP4 of all clips (MP4 or animated PNG inputs); without it, an
/// animated PNG of every frame of every clip (animated PNG inputs only).
/// </summary>
public sealed class VideoAssembler(IOptions<MediaOptions> media)
{
    private readonly Lazy<Ffmpeg?> _ffmpeg = new(() => Ffmpeg.Locate(media.Value.Ffmpeg));

    public async Task<AssembledVideo> AssembleAsync(IReadOnlyList<string> clips, string outputWithoutExtension, CancellationToken ct)
    {
        if (_ffmpeg.Value is { } ffmpeg)
        {
            var mp4 = outputWithoutExtension + ".mp4";
            await ffmpeg.ConcatAsync(clips, mp4, ct);
            return new AssembledVideo(mp4, "mp4", null);
        }

        var frames = new List<SKBitmap>();
        try
        {
            foreach (var clip in clips)
            {
                var bytes = await File.ReadAllBytesAsync(clip, ct);
                if (!MediaFiles.IsPng(bytes))
                {
                    throw new InvalidStateException(
                        $"Clip '{Path.GetFileName(clip)}' is {MediaTypes.Detect(bytes) ?? "of an unknown type"}; joining it needs ffmpeg on PATH (or set Media:Ffmpeg to its path).");
                }

                foreach (var frame in Apng.DecodeFrames(bytes))
                {
                    if (frames.Count > 0 && (frame.Image.Width != frames[0].Width || frame.Image.Height != frames[0].Height))
                    {
                        frames.Add(Images.Resize(frame.Image, frames[0].Width, frames[0].Height));
                        frame.Image.Dispose();
                    }
                    else
                    {
                        frames.Add(frame.Image);
                    }
                }
            }

            var apng = outputWithoutExtension + ".apng";
            await File.WriteAllBytesAsync(apng, Apng.Encode(frames, media.Value.FramesPerSecond), ct);
            return new AssembledVideo(apng, "apng", frames.Count);
        }
        finally
        {
            foreach (var frame in frames)
            {
                frame.Dispose();
            }
        }
    }
}
/// <summary>The assembled file.</summary>
public sealed record AssembledVideo(string Path, string Format, int? Frames);
