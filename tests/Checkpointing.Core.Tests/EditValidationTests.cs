using System.Text;
using Checkpointing.Tests.Support;

namespace Checkpointing.Tests;

/// <summary>Every bad edit throws a specific exception and leaves the store (metadata and blobs) exactly as it was.</summary>
public class EditValidationTests : IAsyncLifetime
{
    private readonly TestHost _host = new();
    private Checkpoint _plan = null!;
    private Checkpoint _storyboard = null!;
    private Checkpoint _abandoned = null!;
    private Guid _runId;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        var started = await _host.StartAsync();
        _runId = started.Run.Id;
        _plan = started.Checkpoint!;
        _storyboard = (await _host.Runner.ContinueAsync(_plan.Id, cancellationToken: Ct)).Checkpoint!;

        // A second storyboard checkpoint on a fork, then abandoned.
        await _host.Editor.PatchJsonAsync(_plan.Id, "spec", "spec", """{"template":"alt"}""", cancellationToken: Ct);
        var alternative = (await _host.Runner.ContinueAsync(_plan.Id, cancellationToken: Ct)).Checkpoint!;
        _abandoned = await _host.Editor.AbandonAsync(alternative.Id, Ct);
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    private async Task AssertUnchangedAsync<TException>(Func<Task> edit)
        where TException : CheckpointingException
    {
        var before = await StoreSnapshot.CaptureAsync(_host.Store, _runId, _host.Blobs);
        var submits = _host.Backend.SubmitCount();

        var error = await Assert.ThrowsAsync<TException>(edit);

        Assert.False(string.IsNullOrWhiteSpace(error.Message));
        Assert.Equal(before, await StoreSnapshot.CaptureAsync(_host.Store, _runId, _host.Blobs));
        Assert.Equal(submits, _host.Backend.SubmitCount());
    }

    [Fact]
    public Task Patch_on_the_wrong_phase() =>
        AssertUnchangedAsync<EditNotAllowedException>(() => _host.Editor.PatchJsonAsync(_storyboard.Id, "beat_image", "beat_1", "{}", cancellationToken: Ct));

    [Fact]
    public Task Upload_on_the_wrong_phase() =>
        AssertUnchangedAsync<EditNotAllowedException>(() => _host.Editor.ReplaceContentAsync(_plan.Id, "spec", "spec", new MemoryStream(FakeBackend.Png("x")), cancellationToken: Ct));

    [Fact]
    public Task Regenerate_on_a_phase_that_is_not_unit_based() =>
        AssertUnchangedAsync<EditNotAllowedException>(() => _host.Editor.RegenerateUnitAsync(_plan.Id, 1, cancellationToken: Ct));

    [Fact]
    public Task Edit_of_an_abandoned_checkpoint() =>
        AssertUnchangedAsync<CheckpointAbandonedException>(() => _host.Editor.RegenerateUnitAsync(_abandoned.Id, 1, cancellationToken: Ct));

    [Fact]
    public Task Upload_to_an_abandoned_checkpoint() =>
        AssertUnchangedAsync<CheckpointAbandonedException>(() => _host.Editor.ReplaceContentAsync(_abandoned.Id, "beat_image", "beat_1", new MemoryStream(FakeBackend.Png("new")), cancellationToken: Ct));

    [Fact]
    public Task Unknown_key() =>
        AssertUnchangedAsync<ArtifactNotFoundException>(() => _host.Editor.ReplaceContentAsync(_storyboard.Id, "beat_image", "beat_99", new MemoryStream(FakeBackend.Png("x")), cancellationToken: Ct));

    [Fact]
    public Task Unknown_checkpoint() =>
        AssertUnchangedAsync<CheckpointNotFoundException>(() => _host.Editor.PatchJsonAsync(Guid.NewGuid(), "spec", "spec", "{}", cancellationToken: Ct));

    [Theory]
    [InlineData("../../etc/passwd")]
    [InlineData("beat/1")]
    [InlineData("")]
    [InlineData(".hidden")]
    public Task Keys_with_path_characters(string key) =>
        AssertUnchangedAsync<InvalidArtifactKeyException>(() => _host.Editor.ReplaceContentAsync(_storyboard.Id, "beat_image", key, new MemoryStream(FakeBackend.Png("x")), cancellationToken: Ct));

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(-1)]
    public async Task Unit_index_out_of_range(int index)
    {
        var error = await Assert.ThrowsAsync<UnitIndexOutOfRangeException>(() => _host.Editor.RegenerateUnitAsync(_storyboard.Id, index, cancellationToken: Ct));
        Assert.Equal(4, error.UnitCount);
        await AssertUnchangedAsync<UnitIndexOutOfRangeException>(() => _host.Editor.RegenerateUnitAsync(_storyboard.Id, index, cancellationToken: Ct));
    }

    [Theory]
    [InlineData("{\"beats\": [")]
    [InlineData("not json")]
    [InlineData("")]
    [InlineData("[1,2]")]
    public Task Invalid_json_patch(string patch) =>
        AssertUnchangedAsync<InvalidJsonException>(() => _host.Editor.PatchJsonAsync(_plan.Id, "spec", "spec", patch, cancellationToken: Ct));

    [Theory]
    [InlineData("""{"beats": []}""", "at least one beat")]
    [InlineData("""{"total_duration": 99}""", "add up to")]
    [InlineData("""{"beats": [{"id":"a","duration":5,"prompt":"p","shot_type":"wide"},{"id":"a","duration":5,"prompt":"q","shot_type":"wide"}]}""", "unique")]
    [InlineData("""{"beats": [{"id":"a","duration":-10,"prompt":"p","shot_type":"wide"},{"id":"b","duration":20,"prompt":"q","shot_type":"wide"}]}""", "positive")]
    [InlineData("""{"beats": "three"}""", "schema")]
    public async Task Schema_invalid_spec(string patch, string expected)
    {
        await AssertUnchangedAsync<ArtifactValidationException>(() => _host.Editor.PatchJsonAsync(_plan.Id, "spec", "spec", patch, cancellationToken: Ct));
        var error = await Assert.ThrowsAsync<ArtifactValidationException>(() => _host.Editor.PatchJsonAsync(_plan.Id, "spec", "spec", patch, cancellationToken: Ct));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Html_file_named_png_is_rejected_by_its_bytes()
    {
        var html = Encoding.UTF8.GetBytes("<!DOCTYPE html><html><body>not an image</body></html>");
        await AssertUnchangedAsync<MediaTypeNotAllowedException>(() => _host.Editor.ReplaceContentAsync(_storyboard.Id, "beat_image", "beat_1", new MemoryStream(html), cancellationToken: Ct));
        var error = await Assert.ThrowsAsync<MediaTypeNotAllowedException>(() => _host.Editor.ReplaceContentAsync(_storyboard.Id, "beat_image", "beat_1", new MemoryStream(html), cancellationToken: Ct));
        Assert.Null(error.Detected);
        Assert.Contains("image/png", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public Task Video_uploaded_as_a_beat_image_is_rejected() =>
        AssertUnchangedAsync<MediaTypeNotAllowedException>(() => _host.Editor.ReplaceContentAsync(_storyboard.Id, "beat_image", "beat_1", new MemoryStream(FakeBackend.Mp4("clip")), cancellationToken: Ct));

    [Fact]
    public Task Oversized_upload_with_a_known_length() =>
        AssertUnchangedAsync<ContentTooLargeException>(() => _host.Editor.ReplaceContentAsync(_storyboard.Id, "beat_image", "beat_1", new MemoryStream(Oversized()), cancellationToken: Ct));

    [Fact]
    public Task Oversized_upload_streamed_without_a_length() =>
        AssertUnchangedAsync<ContentTooLargeException>(() => _host.Editor.ReplaceContentAsync(_storyboard.Id, "beat_image", "beat_1", new UnseekableStream(Oversized()), cancellationToken: Ct));

    [Fact]
    public Task Stale_expected_version_is_a_conflict() =>
        AssertUnchangedAsync<ConcurrencyConflictException>(() => _host.Editor.PatchJsonAsync(_plan.Id, "spec", "spec", """{"template":"x"}""", new EditOptions(ExpectedVersion: 1), Ct));

    [Fact]
    public Task Stale_expected_version_on_an_upload_writes_no_blob() =>
        AssertUnchangedAsync<ConcurrencyConflictException>(() => _host.Editor.ReplaceContentAsync(_storyboard.Id, "beat_image", "beat_1", new MemoryStream(FakeBackend.Png("late")), new EditOptions(ExpectedVersion: 7), Ct));

    [Fact]
    public Task Stale_expected_version_on_a_regeneration_pays_for_nothing() =>
        AssertUnchangedAsync<ConcurrencyConflictException>(() => _host.Editor.RegenerateUnitAsync(_storyboard.Id, 2, new UnitOverrides(Prompt: "late"), new EditOptions(ExpectedVersion: 7), Ct));

    [Theory]
    [InlineData(20)]
    [InlineData(200)]
    [InlineData(-1)]
    public async Task A_cut_short_png_is_refused_by_its_structure(int length)
    {
        var png = TestMedia.Png(64, 64);
        var cut = png[..(length < 0 ? png.Length - 1 : length)];

        await AssertUnchangedAsync<InvalidContentException>(() => _host.Editor.ReplaceContentAsync(_storyboard.Id, "beat_image", "beat_1", new MemoryStream(cut), cancellationToken: Ct));
        var error = await Assert.ThrowsAsync<InvalidContentException>(() => _host.Editor.ReplaceContentAsync(_storyboard.Id, "beat_image", "beat_1", new UnseekableStream(cut), cancellationToken: Ct));
        Assert.Equal(MediaTypes.Png, error.MediaType);
        Assert.Contains("Upload the whole file again", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public Task A_png_signature_on_other_bytes_is_refused() =>
        AssertUnchangedAsync<InvalidContentException>(() => _host.Editor.ReplaceContentAsync(_storyboard.Id, "beat_image", "beat_1", new MemoryStream(FakeBackend.Png("not really")), cancellationToken: Ct));

    [Fact]
    public async Task Whole_jpeg_and_webp_uploads_are_accepted()
    {
        var jpeg = await _host.Editor.ReplaceContentAsync(_storyboard.Id, "beat_image", "beat_2", new MemoryStream(TestMedia.Jpeg()), cancellationToken: Ct);
        var webp = await _host.Editor.ReplaceContentAsync(_storyboard.Id, "beat_image", "beat_3", new MemoryStream(TestMedia.WebP()), cancellationToken: Ct);

        Assert.Equal((MediaTypes.Jpeg, MediaTypes.WebP), (jpeg.Artifact.Content.Blob!.MediaType, webp.Artifact.Content.Blob!.MediaType));
    }

    [Fact]
    public async Task A_valid_upload_is_accepted_by_its_bytes()
    {
        var result = await _host.Editor.ReplaceContentAsync(_storyboard.Id, "beat_image", "beat_1", new UnseekableStream(TestMedia.Png(seed: 42)), new EditOptions(ExpectedVersion: 1, EditedBy: "ana"), Ct);

        Assert.Equal((2, MediaTypes.Png, "ana"), (result.Artifact.Version, result.Artifact.Content.Blob!.MediaType, result.Artifact.UpdatedBy));
        await using var stream = await _host.Blobs.OpenReadAsync(result.Artifact.Content.Blob.Hash, Ct);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, Ct);
        Assert.Equal(TestMedia.Png(seed: 42), copy.ToArray());
    }

    private static byte[] Oversized()
    {
        var bytes = new byte[64 * 1024 + 1];
        FakeBackend.Png("big").CopyTo(bytes, 0);
        return bytes;
    }

    private sealed class UnseekableStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 1000));
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
