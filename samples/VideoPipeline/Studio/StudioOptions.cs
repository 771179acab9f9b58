using VideoPipeline.Media;

namespace VideoPipeline.Studio;

/// <summary>Settings of the offline studio backend (configuration section <c>Studio</c>).</summary>
public sealed class StudioOptions
{
    /// <summary>The folder for the studio's job files and outputs. The host sets it to <c>{data}/studio</c>.</summary>
    public string Root { get; set; } = "studio";

    /// <summary>How long each job takes, to make progress visible. Default: 120 ms.</summary>
    public int LatencyMilliseconds { get; set; } = 120;

    /// <summary>The models the studio can run, by id, with what they make and what they charge.</summary>
    public Dictionary<string, StudioModel> Models { get; set; } = new(StringComparer.Ordinal)
    {
        ["meta/meta-llama-3-8b-instruct"] = new() { Kind = StudioModelKind.Text, Price = 0.003m },
        ["black-forest-labs/flux-dev"] = new() { Kind = StudioModelKind.Image, Price = 0.025m },
        ["black-forest-labs/flux-schnell"] = new() { Kind = StudioModelKind.Image, Price = 0.003m },
        ["minimax/hailuo-02"] = new() { Kind = StudioModelKind.Video, Price = 0.045m, Camera = CameraMove.Pan },
        ["kwaivgi/kling-v2.1"] = new() { Kind = StudioModelKind.Video, Price = 0.05m, Camera = CameraMove.Zoom },
        ["google/veo-3"] = new() { Kind = StudioModelKind.Video, Price = 0.40m, Camera = CameraMove.Sweep },
    };
}

/// <summary>What a studio model makes.</summary>
public enum StudioModelKind
{
    /// <summary>Text: writes a video spec from the prompt.</summary>
    Text,
    /// <summary>An image painted from the prompt and seed.</summary>
    Image,
    /// <summary>A clip whose first frame is the given image.</summary>
    Video,
}

/// <summary>One studio model.</summary>
public sealed class StudioModel
{
    public StudioModelKind Kind { get; set; }

    /// <summary>The price: per call for text, per image, per second of video.</summary>
    public decimal Price { get; set; }

    /// <summary>How video models move the camera.</summary>
    public CameraMove Camera { get; set; } = CameraMove.Pan;
}

/// <summary>Settings for the media the pipeline makes (configuration section <c>Media</c>).</summary>
public sealed class MediaOptions
{
    /// <summary><c>auto</c> (use ffmpeg when it is on PATH), <c>off</c>, or the path of the ffmpeg executable.</summary>
    public string Ffmpeg { get; set; } = "auto";

    /// <summary>The width of images and clips. Default: 256.</summary>
    public int Width { get; set; } = 256;

    /// <summary>The height of images and clips. Default: 144.</summary>
    public int Height { get; set; } = 144;

    /// <summary>Frames per second of clips. Default: 4.</summary>
    public int FramesPerSecond { get; set; } = 4;
}
