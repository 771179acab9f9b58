using System.Net;
using Checkpointing.Providers.Replicate.Testing;

namespace Checkpointing.Providers.Replicate.Tests;

public sealed class ErrorTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(401, typeof(ReplicateUnauthenticatedException), false)]
    [InlineData(402, typeof(ReplicateOutOfCreditException), false)]
    [InlineData(404, typeof(ReplicateNotFoundException), false)]
    [InlineData(413, typeof(ReplicatePayloadTooLargeException), false)]
    [InlineData(422, typeof(ReplicateInvalidInputException), false)]
    [InlineData(500, typeof(ReplicateServerException), true)]
    public async Task Problem_responses_map_to_specific_exceptions(int status, Type expected, bool transient)
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.FluxDev] = new FakeModel();
        await using var services = TestHost.Create(fake, o => o.MaxRetries = 1);
        var id = await services.Backend().SubmitAsync(ReplicateModels.Image("x", model: ReplicateModels.FluxDev), Ct);
        var detail = $"injected detail {status}";
        for (var i = 0; i < 2; i++)
        {
            fake.Inject("get", FakeFault.Problem(status, detail));
        }

        var error = await Assert.ThrowsAnyAsync<ReplicateException>(() => services.Backend().WaitAsync(id, Ct));

        Assert.IsType(expected, error);
        Assert.IsAssignableFrom<GenerationException>(error);
        Assert.Equal((HttpStatusCode)status, error.StatusCode);
        Assert.Equal(detail, error.Detail);
        Assert.Contains(detail, error.Message, StringComparison.Ordinal);
        Assert.Equal(transient, error.IsTransient);
        Assert.Equal(transient ? 2 : 1, fake.RequestsOf("get").Count);
    }

    [Fact]
    public async Task A_402_on_create_says_out_of_credit()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.FluxDev] = new FakeModel();
        fake.Inject("create", FakeFault.Problem(402, "You have insufficient credit to run this model."));
        await using var services = TestHost.Create(fake);

        var error = await Assert.ThrowsAsync<ReplicateOutOfCreditException>(() => services.Backend().SubmitAsync(ReplicateModels.Image("x", model: ReplicateModels.FluxDev), Ct));

        Assert.Contains("out of credit", error.Message, StringComparison.Ordinal);
        Assert.Single(fake.RequestsOf("create"));
    }

    [Fact]
    public async Task A_wrong_token_is_unauthenticated()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.FluxDev] = new FakeModel();
        await using var services = TestHost.Create(fake, o => o.ApiToken = "r8_wrong");

        var error = await Assert.ThrowsAsync<ReplicateUnauthenticatedException>(() => services.Backend().SubmitAsync(ReplicateModels.Image("x", model: ReplicateModels.FluxDev), Ct));

        Assert.Equal("You did not pass a valid authentication token", error.Detail);
        Assert.DoesNotContain("r8_wrong", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_model_is_not_found_and_a_missing_input_is_invalid_with_the_detail()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.KlingV21] = new FakeModel { RequiredInputs = ["prompt", "start_image"] };
        await using var services = TestHost.Create(fake);
        var backend = services.Backend();

        var missing = await Assert.ThrowsAsync<ReplicateNotFoundException>(() => backend.SubmitAsync(ReplicateModels.Image("x", model: "nobody/nothing"), Ct));
        Assert.Contains("nobody/nothing", missing.Message, StringComparison.Ordinal);

        var invalid = await Assert.ThrowsAsync<ReplicateInvalidInputException>(() =>
            backend.SubmitAsync(new GenerationRequest(ReplicateModels.KlingV21, new() { ["prompt"] = "no image" }), Ct));
        Assert.Equal(ReplicateModels.KlingV21, invalid.Model);
        Assert.Contains("start_image is required", invalid.Message, StringComparison.Ordinal);
        Assert.Equal(0, fake.CreateCount);
    }

    [Fact]
    public async Task An_oversized_upload_is_too_large()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.MaxUploadBytes = 2000;
        await using var services = TestHost.Create(fake, o => o.InlineFileLimit = 100);

        await Assert.ThrowsAsync<ReplicatePayloadTooLargeException>(() =>
            services.Backend().PrepareFileInputAsync(new MemoryStream(new byte[5000]), "image/png", Ct));
    }

    [Fact]
    public async Task An_invalid_model_reference_is_refused_before_any_request()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        await using var services = TestHost.Create(fake);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => services.Backend().SubmitAsync(new GenerationRequest("not a model", new()), Ct));

        Assert.Contains("owner/name", error.Message, StringComparison.Ordinal);
        Assert.Empty(fake.Requests);
    }
}
