using Checkpointing.Generation;
using Checkpointing.Storage;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Checkpointing;
using Microsoft.Extensions.Options;
using SkiaSharp;
using VideoPipeline.Media;

namespace VideoPipeline.Studio;

/// <summary>
/// An offline, deterministic generation backend that makes real files. Jobs are files under
/// <c>{Root}/jobs</c>: <see cref="SubmitAsync"/> writes the request and returns its id, <see cref="WaitAsync"/> renders
/// the output once and records the result, so any process can wait on (re-attach to) a job another process
/// submitted, and waiting again returns the same outputs without charging twice.
/// </summary>
/// <remarks>
/// Text models write a video spec (<see cref="StudioPlanner"/>); image models paint a PNG from the prompt and seed
/// (<c>#rrggbb</c> colours in the prompt become the palette); video models animate the image of
/// their <c>first_frame</c> file input (read from the pipeline's blob store, file system or S3) or <c>first_frame_image</c>
/// (a <c>file:</c> or <c>data:</c> URL); PNG, JPEG or WebP, into an MP4 with ffmpeg, or an animated PNG without it.
/// Images are painted, decoded and encoded with SkiaSharp.
/// </remarks>
public sealed partial class StudioBackend : IGenerationBackend
{
    public const string BackendName = "studio";

    private static readonly JsonSerializerOptions JobJson = new(JsonSerializerDefaults.Web) { WriteIndented = true };
    private readonly StudioOptions _options;
    private readonly MediaOptions _media;
    private readonly TimeProvider _time;
    private readonly IBlobStore _blobs;
    private readonly Lazy<Ffmpeg?> _ffmpeg;
    private readonly string _jobs;
    private readonly string _outputs;

    public StudioBackend(IOptions<StudioOptions> options, IOptions<MediaOptions> media, IBlobStore blobs, TimeProvider time)
    {
        _options = options.Value;
        _blobs = blobs;
        _media = media.Value;
        _time = time;
        _ffmpeg = new Lazy<Ffmpeg?>(() => Ffmpeg.Locate(_media.Ffmpeg));
        _jobs = Path.Combine(Path.GetFullPath(_options.Root), "jobs");
        _outputs = Path.Combine(Path.GetFullPath(_options.Root), "outputs");
    }

    public string Name => BackendName;

    public async Task<string> SubmitAsync(GenerationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!_options.Models.ContainsKey(request.Model))
        {
            throw new GenerationException($"The studio backend has no model '{request.Model}'. It has: {string.Join(", ", _options.Models.Keys)}.");
        }

        Directory.CreateDirectory(_jobs);
        var id = $"st-{_time.GetUtcNow():yyyyMMddHHmmss}-{Guid.NewGuid().ToString("N")[..12]}";
        var files = new Dictionary<string, StudioInputFile>(StringComparer.Ordinal);
        foreach (var (name, input) in request.Blobs)
        {
            if (input.Blob is { } blob)
            {
                // A blob of the pipeline's store: any process that waits on the job reads it there, by hash.
                files[name] = new StudioInputFile(blob.Hash, null, input.MediaType);
                continue;
            }

            // Anything else is copied next to the job, so the job does not depend on the caller's stream.
            var path = Path.Combine(_jobs, $"{id}.{files.Count}.input");
            var stream = await input.OpenReadAsync(cancellationToken);
            await using (stream)
            {
                using var copy = new MemoryStream();
                await stream.CopyToAsync(copy, cancellationToken);
                await WriteAtomicallyAsync(path, copy.ToArray(), cancellationToken);
            }

            files[name] = new StudioInputFile(null, Path.GetFileName(path), input.MediaType);
        }

        var job = new StudioJob(id, request.Model, request.Input, _time.GetUtcNow()) { Files = files };
        await WriteAtomicallyAsync(JobPath(id), JsonSerializer.SerializeToUtf8Bytes(job, JobJson), cancellationToken);
        return id;
    }

    public async Task<GenerationResult> WaitAsync(string jobId, CancellationToken cancellationToken = default)
    {
        var job = await ReadJobAsync(jobId, cancellationToken);
        if (File.Exists(ResultPath(jobId)))
        {
            return ToResult(JsonSerializer.Deserialize<StudioResult>(await File.ReadAllBytesAsync(ResultPath(jobId), cancellationToken), JobJson)!);
        }

        if (File.Exists(CancelledPath(jobId)))
        {
            return new GenerationResult(jobId, GenerationStatus.Canceled, [], 0m, "The job was cancelled.");
        }

        // The job "runs" from its submission: a waiter that re-attaches later waits only for what is left. Stopping the
        // wait leaves the job running; only CancelAsync cancels it.
        var remaining = job.SubmittedAt + TimeSpan.FromMilliseconds(_options.LatencyMilliseconds) - _time.GetUtcNow();
        if (remaining > TimeSpan.Zero)
        {
            await Task.Delay(remaining, _time, cancellationToken);
        }

        if (File.Exists(CancelledPath(jobId)))
        {
            return new GenerationResult(jobId, GenerationStatus.Canceled, [], 0m, "The job was cancelled.");
        }

        StudioResult result;
        try
        {
            result = await RenderAsync(job, cancellationToken);
        }
        catch (Exception e) when (e is InvalidDataException or StudioInputException or FileNotFoundException or InvalidOperationException)
        {
            // The SDK ends the sentence itself.
            result = new StudioResult(job.Id, GenerationStatus.Failed, null, [], 0m, e.Message.TrimEnd('.'));
        }

        await WriteAtomicallyAsync(ResultPath(jobId), JsonSerializer.SerializeToUtf8Bytes(result, JobJson), cancellationToken);
        return ToResult(result);
    }

    public Task CancelAsync(string jobId, CancellationToken cancellationToken = default)
    {
        if (File.Exists(JobPath(jobId)) && !File.Exists(ResultPath(jobId)))
        {
            File.WriteAllText(CancelledPath(jobId), _time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture));
        }

        return Task.CompletedTask;
    }

    private async Task<StudioResult> RenderAsync(StudioJob job, CancellationToken ct)
    {
        var model = _options.Models[job.Model];
        var prompt = job.Input["prompt"]?.GetValue<string>() ?? "";
        var seed = job.Input["seed"]?.GetValue<long>() ?? 0;
        switch (model.Kind)
        {
            case StudioModelKind.Text:
                var duration = job.Input["duration"]?.GetValue<double>() ?? 10;
                var beats = job.Input["beats"]?.GetValue<int>() ?? 4;
                string text;
                try
                {
                    text = StudioPlanner.WriteSpec(prompt, duration, beats);
                }
                catch (ArgumentException e)
                {
                    throw new StudioInputException(e.Message);
                }

                return new StudioResult(job.Id, GenerationStatus.Succeeded, text, [], model.Price, null);

            case StudioModelKind.Image:
                var palette = HexColour().Matches(prompt).Select(m => SKColor.TryParse(m.Value, out var c) ? c : SKColors.Black).ToList();
                using (var image = Painter.Paint(prompt, seed, _media.Width, _media.Height, palette.Count > 0 ? palette : null))
                {
                    var png = await SaveOutputAsync(job.Id, ".png", Images.EncodePng(image), ct);
                    return new StudioResult(job.Id, GenerationStatus.Succeeded, null, [new StudioFile(png, MediaTypes.Png)], model.Price, null);
                }


            default:
                var seconds = job.Input["duration"]?.GetValue<double>() ?? 2;
                if (seconds is <= 0 or > 60)
                {
                    throw new StudioInputException($"duration must be between 0 and 60 seconds, not {seconds.ToString(CultureInfo.InvariantCulture)}.");
                }

                using (var loaded = await LoadFirstFrameAsync(job, ct))
                using (var first = Images.Resize(loaded, _media.Width, _media.Height))
                {
                    var frameCount = Math.Max(2, (int)Math.Round(seconds * _media.FramesPerSecond));
                    var frames = Motion.Render(first, frameCount, model.Camera, seed);
                    StudioFile clip;
                    try
                    {
                        clip = await EncodeClipAsync(job.Id, frames, ct);
                    }
                    finally
                    {
                        foreach (var frame in frames)
                        {
                            frame.Dispose();
                        }
                    }

                    var cost = Math.Round(model.Price * (decimal)seconds, 4);
                    return new StudioResult(job.Id, GenerationStatus.Succeeded, null, [clip], cost, null);
                }

        }
    }

    private async Task<StudioFile> EncodeClipAsync(string jobId, IReadOnlyList<SKBitmap> frames, CancellationToken ct)
    {
        if (_ffmpeg.Value is { } ffmpeg)
        {
            var path = Path.Combine(_outputs, jobId + ".mp4");
            var temp = path + "." + Guid.NewGuid().ToString("N") + ".tmp.mp4";
            Directory.CreateDirectory(_outputs);
            try
            {
                await ffmpeg.EncodeFramesAsync([.. frames.Select(Images.EncodePng)], _media.FramesPerSecond, temp, ct);
                File.Move(temp, path, overwrite: true);
            }
            finally
            {
                File.Delete(temp);
            }

            return new StudioFile(path, MediaTypes.Mp4);
        }

        var apng = await SaveOutputAsync(jobId, ".apng", Apng.Encode(frames, _media.FramesPerSecond), ct);
        return new StudioFile(apng, MediaTypes.Png);
    }

    /// <summary>
    /// The clip's first frame: the job's <see cref="GenerationBlobInput.FirstFrame"/> file input (read from the blob
    /// store, whichever it is, or from the copy made at submission), else a <c>file:</c> or <c>data:</c> URL in
    /// <c>first_frame_image</c>.
    /// </summary>
    private async Task<SKBitmap> LoadFirstFrameAsync(StudioJob job, CancellationToken ct)
    {
        byte[] bytes;
        if (job.Files?.GetValueOrDefault(GenerationBlobInput.FirstFrame) is { } file)
        {
            Stream stream;
            try
            {
                stream = file.BlobHash is { } hash ? await _blobs.OpenReadAsync(hash, ct) : File.OpenRead(Path.Combine(_jobs, file.JobFile!));
            }
            catch (Exception e) when (e is BlobNotFoundException or FileNotFoundException)
            {
                throw new StudioInputException($"The first frame of job {job.Id} is gone from the {(file.BlobHash is null ? "studio's job folder" : "blob store")}: regenerate the beat image and continue again.");
            }

            await using (stream)
            {
                using var copy = new MemoryStream();
                await stream.CopyToAsync(copy, ct);
                bytes = copy.ToArray();
            }
        }
        else
        {
            var url = job.Input["first_frame_image"]?.GetValue<string>();
            if (string.IsNullOrWhiteSpace(url) || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
            {
                throw new StudioInputException("A clip needs its first frame: a first_frame file input, or first_frame_image as a file: or data: URL.");
            }

            if (uri.IsFile)
            {
                bytes = await File.ReadAllBytesAsync(uri.LocalPath, ct);
            }
            else if (uri.Scheme == "data" && url.IndexOf(";base64,", StringComparison.Ordinal) is var comma and > 0)
            {
                bytes = Convert.FromBase64String(url[(comma + 8)..]);
            }
            else
            {
                throw new StudioInputException($"The studio backend works offline and reads file: and data: URLs only, not '{uri.Scheme}:'.");
            }
        }

        // SkiaSharp reads PNG, JPEG, WebP and GIF; an animated first frame gives its first image.
        return Images.Decode(bytes);
    }

    private async Task<string> SaveOutputAsync(string jobId, string extension, byte[] bytes, CancellationToken ct)
    {
        var path = Path.Combine(_outputs, jobId + extension);
        await WriteAtomicallyAsync(path, bytes, ct);
        return path;
    }

    private async Task<StudioJob> ReadJobAsync(string jobId, CancellationToken ct)
    {
        if (!JobIdPattern().IsMatch(jobId) || !File.Exists(JobPath(jobId)))
        {
            throw new GenerationException($"The studio backend has no job '{jobId}' under {_jobs}.", jobId);
        }

        return JsonSerializer.Deserialize<StudioJob>(await File.ReadAllBytesAsync(JobPath(jobId), ct), JobJson)
            ?? throw new GenerationException($"The job file of '{jobId}' is empty.", jobId);
    }

    private static GenerationResult ToResult(StudioResult result)
    {
        var outputs = new List<GenerationOutput>();
        if (result.Text is not null)
        {
            outputs.Add(new TextOutput(result.Text));
        }

        foreach (var file in result.Files)
        {
            var path = file.Path;
            outputs.Add(new FileOutput(new Uri(path), file.MediaType, _ => Task.FromResult<Stream>(File.OpenRead(path))));
        }

        return new GenerationResult(result.Id, result.Status, outputs, result.Cost, result.Error);
    }

    private static async Task WriteAtomicallyAsync(string path, byte[] bytes, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        try
        {
            await File.WriteAllBytesAsync(temp, bytes, ct);
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            // A full disk or a cancelled write: leave no half-written temporary file behind.
            File.Delete(temp);
            throw;
        }
    }

    private string JobPath(string id) => Path.Combine(_jobs, id + ".json");

    private string ResultPath(string id) => Path.Combine(_jobs, id + ".result.json");

    private string CancelledPath(string id) => Path.Combine(_jobs, id + ".cancelled");

    [GeneratedRegex("#[0-9a-fA-F]{6}\\b")]
    private static partial Regex HexColour();

    [GeneratedRegex("^st-[0-9]{14}-[0-9a-f]{12}$")]
    private static partial Regex JobIdPattern();

    private sealed record StudioJob(string Id, string Model, JsonObject Input, DateTimeOffset SubmittedAt)
    {
        /// <summary>The job's file inputs by name (absent in job files written before there were any).</summary>
        public Dictionary<string, StudioInputFile>? Files { get; init; }
    }

    /// <summary>A file input of a job: a blob of the pipeline's store by hash, or a copy in the jobs folder.</summary>
    private sealed record StudioInputFile(string? BlobHash, string? JobFile, string MediaType);

    private sealed record StudioFile(string Path, string MediaType);

    private sealed record StudioResult(string Id, GenerationStatus Status, string? Text, IReadOnlyList<StudioFile> Files, decimal Cost, string? Error);

    private sealed class StudioInputException(string message) : Exception(message);
}
