using System.Globalization;
using Microsoft.Extensions.Options;
using VideoPipeline.Phases;
using VideoPipeline.Studio;

namespace VideoPipeline.Hosting;

/// <summary>Checks the <c>Media</c> section at start-up: sizes and frame rate a frame can be painted with, and where ffmpeg is.</summary>
public sealed class MediaOptionsValidator : IValidateOptions<MediaOptions>
{
    public const int MinSize = 16;
    public const int MaxSize = 4096;
    public const int MaxFramesPerSecond = 60;

    public ValidateOptionsResult Validate(string? name, MediaOptions options)
    {
        var errors = new List<string>();
        Range(errors, "Media:Width", options.Width, MinSize, MaxSize, "pixels");
        Range(errors, "Media:Height", options.Height, MinSize, MaxSize, "pixels");
        Range(errors, "Media:FramesPerSecond", options.FramesPerSecond, 1, MaxFramesPerSecond, "frames per second");
        var ffmpeg = options.Ffmpeg?.Trim();
        if (string.IsNullOrEmpty(ffmpeg))
        {
            errors.Add("Media:Ffmpeg is empty; set it to 'auto' (find ffmpeg on PATH), 'off', or the path of the ffmpeg executable.");
        }
        else if (!ffmpeg.Equals("auto", StringComparison.OrdinalIgnoreCase) && !ffmpeg.Equals("off", StringComparison.OrdinalIgnoreCase) && !File.Exists(ffmpeg))
        {
            errors.Add($"Media:Ffmpeg is '{ffmpeg}', but no file is there; set it to 'auto', 'off', or the path of the ffmpeg executable.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    internal static void Range(List<string> errors, string setting, long value, long min, long max, string unit)
    {
        if (value < min || value > max)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{setting} is {value}; set it between {min} and {max} {unit}."));
        }
    }
}

/// <summary>Checks the <c>Studio</c> section at start-up: latency and the models' kinds and prices.</summary>
public sealed class StudioOptionsValidator : IValidateOptions<StudioOptions>
{
    public const int MaxLatencyMilliseconds = 600_000;
    public const decimal MaxPrice = 1000m;

    public ValidateOptionsResult Validate(string? name, StudioOptions options)
    {
        var errors = new List<string>();
        MediaOptionsValidator.Range(errors, "Studio:LatencyMilliseconds", options.LatencyMilliseconds, 0, MaxLatencyMilliseconds, "milliseconds");
        if (options.Models.Count == 0)
        {
            errors.Add("Studio:Models is empty; the studio needs at least a text, an image and a video model.");
        }

        foreach (var (id, model) in options.Models)
        {
            if (model is null)
            {
                errors.Add($"Studio:Models:{id} has no settings; give it a Kind and a Price.");
                continue;
            }

            if (!Enum.IsDefined(model.Kind))
            {
                errors.Add($"Studio:Models:{id}:Kind is {(int)model.Kind}; use Text, Image or Video.");
            }

            if (model.Price < 0 || model.Price > MaxPrice)
            {
                errors.Add(string.Create(CultureInfo.InvariantCulture, $"Studio:Models:{id}:Price is {model.Price}; set it between 0 and {MaxPrice} dollars."));
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>Checks the <c>VideoPipeline</c> section at start-up: model ids, the default clip model and the concurrency.</summary>
public sealed class VideoPipelineOptionsValidator : IValidateOptions<VideoPipelineOptions>
{
    public const int MaxConcurrency = 32;

    public ValidateOptionsResult Validate(string? name, VideoPipelineOptions options)
    {
        var errors = new List<string>();
        MediaOptionsValidator.Range(errors, "VideoPipeline:MaxConcurrency", options.MaxConcurrency, 1, MaxConcurrency, "units at once");
        if (string.IsNullOrWhiteSpace(options.PlannerModel))
        {
            errors.Add("VideoPipeline:PlannerModel is empty; set the id of the LLM that writes the spec.");
        }

        if (string.IsNullOrWhiteSpace(options.ImageModel))
        {
            errors.Add("VideoPipeline:ImageModel is empty; set the id of the storyboard's image model.");
        }

        foreach (var (shortName, id) in options.ClipModels)
        {
            if (string.IsNullOrWhiteSpace(id))
            {
                errors.Add($"VideoPipeline:ClipModels:{shortName} is empty; set a clip model id.");
            }
        }

        try
        {
            options.ResolveClipModel(null);
        }
        catch (UnknownModelException e)
        {
            errors.Add($"VideoPipeline:DefaultClipModel: {e.Message}");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
