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
        { "webm", MediaTypes.WebM },
        { "mp3", MediaTypes.Mp3 },
        { "wav", MediaTypes.Wav },
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
        "webm" => TestMedia.WebM(),
        "mp3" => TestMedia.Mp3(),
        "wav" => TestMedia.Wav(),
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
        Assert.False(MediaChecks.CanCheck(MediaTypes.OctetStream));
        Assert.Null(MediaChecks.FindProblem(new MemoryStream("anything"u8.ToArray()), MediaTypes.OctetStream));
    }

    [Fact]
    public void A_signature_alone_is_not_an_mp3_a_wav_or_a_webm()
    {
        Assert.NotNull(MediaChecks.FindProblem(new MemoryStream("ID3 anything"u8.ToArray()), MediaTypes.Mp3));
        Assert.NotNull(MediaChecks.FindProblem(new MemoryStream([0xFF, 0xFB, 0x90, 0x44, .. "garbage"u8]), MediaTypes.Mp3));
        Assert.NotNull(MediaChecks.FindProblem(new MemoryStream([.. "RIFF"u8, 4, 0, 0, 0, .. "WAVE"u8]), MediaTypes.Wav));
        Assert.NotNull(MediaChecks.FindProblem(new MemoryStream([0x1A, 0x45, 0xDF, 0xA3, .. "garbage"u8]), MediaTypes.WebM));
    }

    [Fact]
    public void An_mp3_of_many_frames_with_id3_tags_passes_and_a_cut_inside_any_frame_is_refused()
    {
        var bytes = TestMedia.Mp3(frames: 3, id3v2: true, id3v1: true);
        Assert.Null(MediaChecks.FindProblem(new MemoryStream(bytes), MediaTypes.Mp3));
        Assert.Null(MediaChecks.FindProblem(new MemoryStream(TestMedia.Mp3(frames: 2, id3v2: false)), MediaTypes.Mp3));

        const int tag = 20, frame = 417;
        for (var length = tag + 1; length < tag + (3 * frame); length++)
        {
            if ((length - tag) % frame != 0)
            {
                Assert.True(MediaChecks.FindProblem(new MemoryStream(bytes, 0, length), MediaTypes.Mp3) is not null, $"an mp3 cut to {length} bytes was accepted");
            }
        }
    }

    [Fact]
    public void Bytes_between_or_after_mp3_frames_are_refused()
    {
        var frames = TestMedia.Mp3(frames: 2, id3v2: false);
        byte[] gap = [.. frames[..417], 0, 0, 0, .. frames[417..]];

        Assert.Contains("frame sync at byte 417", MediaChecks.FindProblem(new MemoryStream(gap), MediaTypes.Mp3), StringComparison.Ordinal);
        Assert.NotNull(MediaChecks.FindProblem(new MemoryStream([.. frames, 1, 2, 3]), MediaTypes.Mp3));
    }

    [Fact]
    public void A_wav_whose_chunks_do_not_add_up_or_whose_format_disagrees_is_refused()
    {
        var wav = TestMedia.Wav();
        Assert.Contains("bytes follow", MediaChecks.FindProblem(new MemoryStream([.. wav, 0, 0]), MediaTypes.Wav), StringComparison.Ordinal);

        var badAlign = wav.ToArray();
        badAlign[12 + 8 + 12] = 3; // block align 2 -> 3
        Assert.Contains("block alignment", MediaChecks.FindProblem(new MemoryStream(badAlign), MediaTypes.Wav), StringComparison.Ordinal);

        var longData = wav.ToArray();
        longData[^12] = 9; // data size 8 -> 9
        Assert.NotNull(MediaChecks.FindProblem(new MemoryStream(longData), MediaTypes.Wav));

        byte[] dataFirst = TestMedia.RiffChunk("RIFF", [.. "WAVE"u8, .. TestMedia.RiffChunk("data", [0, 0]), .. wav[12..]]);
        Assert.Contains("before its 'fmt '", MediaChecks.FindProblem(new MemoryStream(dataFirst), MediaTypes.Wav), StringComparison.Ordinal);

        byte[] noData = TestMedia.RiffChunk("RIFF", [.. "WAVE"u8, .. wav[12..36]]);
        Assert.Contains("no 'data'", MediaChecks.FindProblem(new MemoryStream(noData), MediaTypes.Wav), StringComparison.Ordinal);
    }

    [Fact]
    public void A_live_webm_of_unknown_sizes_passes_and_a_cut_inside_its_block_is_refused()
    {
        var live = TestMedia.WebM(live: true);
        Assert.Equal(MediaTypes.WebM, MediaTypes.Detect(live.AsSpan(0, Math.Min(live.Length, MediaTypes.SniffLength))));
        Assert.Null(MediaChecks.FindProblem(new MemoryStream(live), MediaTypes.WebM));
        for (var cut = 1; cut < "a vp8 frame".Length + 4; cut++)
        {
            Assert.NotNull(MediaChecks.FindProblem(new MemoryStream(live, 0, live.Length - cut), MediaTypes.WebM));
        }
    }

    [Fact]
    public void A_webm_of_another_document_type_without_frames_or_with_trailing_bytes_is_refused()
    {
        Assert.Contains("'matroska', not 'webm'", MediaChecks.FindProblem(new MemoryStream(TestMedia.WebM(docType: "matroska")), MediaTypes.WebM), StringComparison.Ordinal);
        Assert.NotNull(MediaChecks.FindProblem(new MemoryStream([.. TestMedia.WebM(), 1, 2, 3]), MediaTypes.WebM));

        var webm = TestMedia.WebM();
        var header = webm.AsSpan().IndexOf((ReadOnlySpan<byte>)[0x18, 0x53, 0x80, 0x67]);
        byte[] empty = [.. webm[..header], 0x18, 0x53, 0x80, 0x67, 0x80];
        Assert.Contains("no Info", MediaChecks.FindProblem(new MemoryStream(empty), MediaTypes.WebM), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("webm")]
    [InlineData("mp3")]
    [InlineData("wav")]
    public async Task An_upload_cut_short_is_refused_with_InvalidContentException_and_changes_nothing_while_the_whole_file_is_stored(string name)
    {
        await using var host = new TestHost(b => b.AddPipeline("media", p => p.AddPhase(new MediaPhase())));
        var started = await host.Runner.StartAsync(new StartRunRequest("media", "user-1", System.Text.Json.JsonSerializer.SerializeToElement(new { })), TestContext.Current.CancellationToken);
        var checkpoint = started.Checkpoint!;
        var bytes = File(name);
        var before = await StoreSnapshot.CaptureAsync(host.Store, started.Run.Id, host.Blobs);

        var error = await Assert.ThrowsAsync<InvalidContentException>(() =>
            host.Editor.ReplaceContentAsync(checkpoint.Id, "media", "media", new MemoryStream(bytes, 0, bytes.Length - 1), cancellationToken: TestContext.Current.CancellationToken));

        Assert.Contains("cut short", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await StoreSnapshot.CaptureAsync(host.Store, started.Run.Id, host.Blobs));
        var edit = await host.Editor.ReplaceContentAsync(checkpoint.Id, "media", "media", new MemoryStream(bytes), cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(2, edit.Artifact.Version);
    }

    /// <summary>One phase whose artifact takes WebM, MP3 and WAV uploads; it starts as a placeholder blob.</summary>
    private sealed class MediaPhase() : Phase("media")
    {
        public override IReadOnlyList<ArtifactSpec> Artifacts { get; } =
            [new ArtifactSpec("media") { AllowedMediaTypes = [MediaTypes.WebM, MediaTypes.Mp3, MediaTypes.Wav], AllowedEdits = EditKinds.ReplaceContent }];

        public override async Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken)
        {
            var blob = await context.PutBlobAsync(new MemoryStream(TestMedia.Wav()), cancellationToken: cancellationToken);
            return new PhaseResult([new PhaseArtifact("media", "media", ArtifactContent.FromBlob(blob))]);
        }
    }
}
