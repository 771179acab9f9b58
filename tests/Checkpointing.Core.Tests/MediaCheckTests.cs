using Checkpointing.Tests.Support;

namespace Checkpointing.Tests;

/// <summary>Content is checked by its structure, not only its signature: whole files pass, every cut-short copy is refused.</summary>
public class MediaCheckTests
{
    public static TheoryData<string, string> WholeFiles() => new()
    {
        { "png", MediaTypes.Png },
        { "png interlaced", MediaTypes.Png },
        { "png large", MediaTypes.Png },
        { "jpeg", MediaTypes.Jpeg },
        { "webp lossless", MediaTypes.WebP },
        { "webp extended", MediaTypes.WebP },
        { "gif", MediaTypes.Gif },
        { "mp4", MediaTypes.Mp4 },
        { "mov", MediaTypes.QuickTime },
        { "heic", MediaTypes.Heic },
        { "avif", MediaTypes.Avif },
    };

    private static byte[] File(string name) => name switch
    {
        "png" => TestMedia.Png(),
        "png interlaced" => TestMedia.Png(13, 11, interlaced: true),
        "png large" => TestMedia.Png(300, 200),
        "jpeg" => TestMedia.Jpeg(),
        "webp lossless" => TestMedia.WebP(),
        "webp extended" => TestMedia.WebPExtended(),
        "gif" => TestMedia.Gif(),
        "mp4" => TestMedia.IsoVideo("mp42", "isom", "mp41"),
        "mov" => TestMedia.IsoVideo("qt  ", "qt  "),
        "heic" => TestMedia.IsoImage("heic", 64, 48, "mif1", "heic"),
        "avif" => TestMedia.IsoImage("avif", 64, 48, "avif", "mif1", "miaf"),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(WholeFiles))]
    public void A_whole_file_is_detected_by_its_signature_and_brand_and_passes_its_check(string name, string mediaType)
    {
        var bytes = File(name);

        Assert.Equal(mediaType, MediaTypes.Detect(bytes.AsSpan(0, Math.Min(bytes.Length, MediaTypes.SniffLength))));
        Assert.True(MediaChecks.CanCheck(mediaType));
        Assert.Null(MediaChecks.FindProblem(new MemoryStream(bytes), mediaType));
    }

    [Theory]
    [MemberData(nameof(WholeFiles))]
    public void Every_truncation_of_a_file_is_refused(string name, string mediaType)
    {
        var bytes = File(name);
        for (var length = 0; length < bytes.Length; length++)
        {
            var problem = MediaChecks.FindProblem(new MemoryStream(bytes, 0, length), mediaType);
            Assert.True(problem is not null, $"{name} cut to {length} of {bytes.Length} bytes was accepted");
        }
    }

    [Fact]
    public void Every_single_byte_change_in_a_png_is_refused()
    {
        var bytes = TestMedia.Png();
        for (var i = 0; i < bytes.Length; i++)
        {
            var damaged = bytes.ToArray();
            damaged[i] ^= 0x5A;
            Assert.True(MediaChecks.FindProblem(new MemoryStream(damaged), MediaTypes.Png) is not null, $"a PNG with byte {i} changed was accepted");
        }
    }

    [Fact]
    public void A_png_whose_image_data_does_not_fill_its_dimensions_is_refused()
    {
        // A consistent file (valid CRCs) whose IHDR claims more rows than the IDAT holds.
        var bytes = TestMedia.Png(4, 3);
        var claimed = bytes.ToArray();
        claimed[16 + 7] = 9; // height 3 -> 9
        using var rebuilt = new MemoryStream();
        rebuilt.Write(claimed.AsSpan(0, 8));
        TestMedia.Chunk(rebuilt, "IHDR", claimed[16..29]);
        rebuilt.Write(claimed.AsSpan(33));

        var problem = MediaChecks.FindProblem(new MemoryStream(rebuilt.ToArray()), MediaTypes.Png);

        Assert.Contains("not the", problem, StringComparison.Ordinal);
        Assert.Contains("4x9", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Bytes_after_the_end_of_a_png_or_a_webp_are_refused()
    {
        Assert.NotNull(MediaChecks.FindProblem(new MemoryStream([.. TestMedia.Png(), 0]), MediaTypes.Png));
        Assert.NotNull(MediaChecks.FindProblem(new MemoryStream([.. TestMedia.WebP(), 0, 0]), MediaTypes.WebP));
        Assert.NotNull(MediaChecks.FindProblem(new MemoryStream([.. TestMedia.IsoVideo(), 1, 2, 3]), MediaTypes.Mp4));
    }

    [Fact]
    public void A_video_without_its_index_or_media_is_refused()
    {
        var ftypOnly = TestMedia.IsoVideo()[..24];
        Assert.Contains("'moov'", MediaChecks.FindProblem(new MemoryStream(ftypOnly), MediaTypes.Mp4), StringComparison.Ordinal);
        Assert.NotNull(MediaChecks.FindProblem(new MemoryStream(TestMedia.IsoImage("heic")), MediaTypes.Mp4));
        Assert.NotNull(MediaChecks.FindProblem(new MemoryStream(TestMedia.IsoVideo()), MediaTypes.Heic));
    }

    [Theory]
    [InlineData("heic", MediaTypes.Heic)]
    [InlineData("heix", MediaTypes.Heic)]
    [InlineData("mif1", MediaTypes.Heif)]
    [InlineData("avif", MediaTypes.Avif)]
    [InlineData("avis", MediaTypes.Avif)]
    [InlineData("qt  ", MediaTypes.QuickTime)]
    [InlineData("isom", MediaTypes.Mp4)]
    [InlineData("mp41", MediaTypes.Mp4)]
    [InlineData("mp42", MediaTypes.Mp4)]
    [InlineData("avc1", MediaTypes.Mp4)]
    [InlineData("dash", MediaTypes.Mp4)]
    [InlineData("M4A ", null)]
    [InlineData("crx ", null)]
    public void The_ftyp_major_brand_names_the_media_type(string brand, string? expected) =>
        Assert.Equal(expected, MediaTypes.Detect(TestMedia.IsoVideo(brand)));

    [Fact]
    public void A_generic_heif_brand_is_refined_by_its_compatible_brands()
    {
        Assert.Equal(MediaTypes.Avif, MediaTypes.Detect(TestMedia.IsoImage("mif1", 8, 8, "mif1", "avif")));
        Assert.Equal(MediaTypes.Heic, MediaTypes.Detect(TestMedia.IsoImage("mif1", 8, 8, "mif1", "heic")));
        Assert.Equal(MediaTypes.Heif, MediaTypes.Detect(TestMedia.IsoImage("mif1", 8, 8, "mif1", "miaf")));
    }

    [Fact]
    public void Types_without_a_structural_check_pass_on_their_signature()
    {
        Assert.False(MediaChecks.CanCheck(MediaTypes.Mp3));
        Assert.Null(MediaChecks.FindProblem(new MemoryStream("ID3 anything"u8.ToArray()), MediaTypes.Mp3));
    }
}
