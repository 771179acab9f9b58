using System.Text.Json;
using VideoPipeline.Phases;
using VideoPipeline.Studio;

namespace VideoPipeline.Tests;

/// <summary>The studio planner's specs and the spec validation rules, in process.</summary>
public sealed class SpecTests
{
    [Theory]
    [InlineData("a ceramic desk lamp on an oak desk, cozy evening light", 10, 4, "product_showcase", "ceramic desk lamp", "warm")]
    [InlineData("unboxing the new wireless headphones", 12, 5, "unboxing", "wireless headphones", "calm")]
    [InlineData("sleek running shoes for a morning jog", 7, 3, "lifestyle", "sleek running shoes", "modern")]
    public void The_planner_writes_a_valid_spec_deterministically(string idea, double duration, int beats, string template, string product, string mood)
    {
        var text = StudioPlanner.WriteSpec(idea, duration, beats);
        Assert.Equal(text, StudioPlanner.WriteSpec(idea, duration, beats));

        var json = JsonDocument.Parse(text).RootElement;
        Assert.Empty(SpecValidator.Validate(json));
        var spec = json.Deserialize<VideoSpec>()!;
        Assert.Equal(template, spec.Template);
        Assert.Equal(product, spec.Product.Name);
        Assert.Equal(mood, spec.Style.Mood);
        Assert.Equal(beats, spec.Beats.Count);
        Assert.Equal(duration, spec.Beats.Sum(b => b.Duration), 3);
        Assert.All(spec.Style.Palette, c => Assert.Matches("^#[0-9a-f]{6}$", c));
    }

    [Fact]
    public void Validation_lists_every_problem_with_its_path()
    {
        var spec = JsonDocument.Parse("""
            {"template": "", "total_duration": 5,
             "beats": [{"id": "a", "duration": 0, "prompt": "p", "shot_type": "wide"}, {"id": "a", "duration": "2", "prompt": 3}],
             "style": {"palette": "red"}, "product": {"name": "x", "category": "y"}}
            """).RootElement;

        Assert.Equal(
            [
                "template must be a non-empty string, not the string \"\"",
                "beats[1].duration must be positive, not 0",
                "beat id 'a' is used by beats[1] and beats[2]; beat ids must be unique",
                "beats[2].duration must be a number of seconds, not the string \"2\"",
                "beats[2].prompt must be a non-empty string, not the number 3",
                "beats[2].shot_type is missing",
                "style.mood is missing",
                "style.palette must be an array of colours such as \"#f4a261\"",
                "audio is missing",
            ],
            SpecValidator.Validate(spec));
    }

    [Fact]
    public void Validation_checks_that_durations_add_up()
    {
        var json = JsonDocument.Parse(StudioPlanner.WriteSpec("a mug", 8, 2)).RootElement;
        Assert.Empty(SpecValidator.Validate(json));
        var patched = JsonSerializer.SerializeToElement(json.Deserialize<VideoSpec>()! with { TotalDuration = 9 });
        Assert.Equal(["the beat durations add up to 8 s, not total_duration 9 s"], SpecValidator.Validate(patched));
    }

    [Fact]
    public void Clip_models_resolve_by_short_name_or_id_and_refuse_others()
    {
        var options = new VideoPipelineOptions();
        Assert.Equal("minimax/hailuo-02", options.ResolveClipModel(null));
        Assert.Equal("kwaivgi/kling-v2.1", options.ResolveClipModel("Kling"));
        Assert.Equal("google/veo-3", options.ResolveClipModel("google/veo-3"));
        Assert.Contains("choose one of hailuo, kling, veo", Assert.Throws<UnknownModelException>(() => options.ResolveClipModel("sora")).Message, StringComparison.Ordinal);
    }
}
