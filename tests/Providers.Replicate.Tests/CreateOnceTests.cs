using Checkpointing.Providers.Replicate.Testing;

namespace Checkpointing.Providers.Replicate.Tests;

public sealed class CreateOnceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_backend_disposed_mid_wait_leaves_the_prediction_running_and_a_new_one_reattaches_by_id()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.Veo3] = new FakeModel { Output = FakeOutputKind.SingleFile, Extension = ".mp4", Processing = TimeSpan.FromMilliseconds(1200) };
        var first = TestHost.Create(fake);
        var id = await first.Backend().SubmitAsync(ReplicateModels.Video("waves", "https://example.com/frame.png", durationSeconds: 8, model: ReplicateModels.Veo3), Ct);
        var wait = first.Backend().WaitAsync(id, Ct);
        while (fake.RequestsOf("get").Count < 2)
        {
            await Task.Delay(10, Ct);
        }

        await first.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => wait);
        Assert.False(fake.Get(id).IsTerminal);
        Assert.Empty(fake.RequestsOf("cancel"));

        await using var second = TestHost.Create(fake);
        var result = await second.Backend().WaitAsync(id, Ct);

        Assert.Equal(GenerationStatus.Succeeded, result.Status);
        Assert.Equal(id, result.JobId);
        Assert.Equal(1, fake.CreateCount);
        Assert.Single(fake.RequestsOf("create"));
        var file = Assert.IsType<FileOutput>(Assert.Single(result.Outputs));
        Assert.Equal(fake.FileBytes(fake.Get(id).Files[0]), await file.ReadAllAsync());
    }

    public static TheoryData<string> LostAnswers => ["abort", "502", "timeout"];

    [Theory]
    [MemberData(nameof(LostAnswers))]
    public async Task A_create_whose_answer_is_lost_is_reconciled_not_sent_again(string how)
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.FluxSchnell] = new FakeModel { Files = 1 };
        fake.Models[ReplicateModels.FluxDev] = new FakeModel { Files = 1 };
        await using var other = TestHost.Create(fake);
        await other.Backend().SubmitAsync(ReplicateModels.Image("a decoy", model: ReplicateModels.FluxSchnell), Ct);
        await other.Backend().SubmitAsync(ReplicateModels.Image("a castle", model: ReplicateModels.FluxDev), Ct);
        fake.Inject("create", how switch
        {
            "abort" => new FakeFault { AfterCreate = true, Abort = true },
            "502" => FakeFault.Problem(502, "Bad gateway") with { AfterCreate = true },
            _ => new FakeFault { AfterCreate = true, Hang = TimeSpan.FromSeconds(20) },
        });
        await using var services = TestHost.Create(fake, o => o.RequestTimeout = TimeSpan.FromMilliseconds(500));

        var id = await services.Backend().SubmitAsync(ReplicateModels.Image("a castle", model: ReplicateModels.FluxSchnell), Ct);

        Assert.Equal(3, fake.CreateCount);
        Assert.Equal(3, fake.RequestsOf("create").Count);
        var made = fake.Predictions[2];
        Assert.Equal(made.Id, id);
        Assert.Equal("a castle", made.Input["prompt"]!.GetValue<string>());
        var list = Assert.Single(fake.RequestsOf("list"));
        Assert.Contains("created_after=", list.Path, StringComparison.Ordinal);
        Assert.Equal(GenerationStatus.Succeeded, (await services.Backend().WaitAsync(id, Ct)).Status);
    }

    [Fact]
    public async Task Reconciliation_follows_the_next_page_of_the_list()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.ListPageSize = 1;
        fake.Models[ReplicateModels.FluxSchnell] = new FakeModel();
        await using var services = TestHost.Create(fake, o => o.RequestTimeout = TimeSpan.FromMilliseconds(600));
        await using var elsewhere = TestHost.Create(fake);
        fake.Inject("create", new FakeFault { AfterCreate = true, Hang = TimeSpan.FromSeconds(20) });

        var submit = services.Backend().SubmitAsync(ReplicateModels.Image("page two", model: ReplicateModels.FluxSchnell), Ct);
        while (fake.CreateCount == 0)
        {
            await Task.Delay(5, Ct);
        }

        // A newer prediction from another process pushes ours to the second page of the newest-first list.
        await elsewhere.Backend().SubmitAsync(ReplicateModels.Image("newer", model: ReplicateModels.FluxSchnell), Ct);
        var id = await submit;

        Assert.Equal(fake.Predictions[0].Id, id);
        Assert.Equal(2, fake.CreateCount);
        Assert.Equal(2, fake.RequestsOf("list").Count);
        Assert.Contains("cursor=1", fake.RequestsOf("list")[1].Path, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_5xx_create_that_made_nothing_fails_as_transient_without_a_second_create()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.FluxSchnell] = new FakeModel();
        fake.Inject("create", FakeFault.Problem(503, "Service unavailable"));
        await using var services = TestHost.Create(fake);

        var error = await Assert.ThrowsAsync<ReplicateServerException>(() => services.Backend().SubmitAsync(ReplicateModels.Image("x", model: ReplicateModels.FluxSchnell), Ct));

        Assert.True(error.IsTransient);
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, error.StatusCode);
        Assert.Single(fake.RequestsOf("create"));
        Assert.Equal(0, fake.CreateCount);
        Assert.Equal(3, fake.RequestsOf("list").Count);
    }

    [Fact]
    public async Task Cancelling_the_callers_token_stops_the_wait_and_leaves_the_prediction_running()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.Hailuo02] = new FakeModel { Output = FakeOutputKind.SingleFile, Extension = ".mp4", Processing = TimeSpan.FromSeconds(30) };
        await using var services = TestHost.Create(fake);
        var backend = services.Backend();
        var id = await backend.SubmitAsync(ReplicateModels.Video("slow", model: ReplicateModels.Hailuo02), Ct);
        using var caller = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var wait = backend.WaitAsync(id, caller.Token);
        while (fake.Get(id).Status != "processing")
        {
            await Task.Delay(10, Ct);
        }

        await caller.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
        Assert.Equal("processing", fake.Get(id).Status);
        Assert.Empty(fake.RequestsOf("cancel"));

        await backend.CancelAsync(id, Ct);
        Assert.Equal("canceled", fake.Get(id).Status);
    }

    [Fact]
    public async Task Cancelling_the_callers_token_during_a_sync_create_cancels_the_prediction_it_made()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.FluxDev] = new FakeModel { Processing = TimeSpan.FromSeconds(30) };
        await using var services = TestHost.Create(fake, o =>
        {
            o.SyncModels.Add(ReplicateModels.FluxDev);
            o.SyncWaitSeconds = 60;
        });
        using var caller = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var submit = services.Backend().SubmitAsync(ReplicateModels.Image("held", model: ReplicateModels.FluxDev), caller.Token);
        while (fake.CreateCount == 0 || fake.Predictions[0].Status != "processing")
        {
            await Task.Delay(10, Ct);
        }

        await caller.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => submit);
        Assert.Equal("wait=60", fake.RequestsOf("create")[0].Header("Prefer"));
        Assert.Equal("canceled", fake.Predictions[0].Status);
        Assert.Single(fake.RequestsOf("cancel"));
    }

    [Fact]
    public async Task A_model_version_is_created_through_the_predictions_route()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        var version = new string('a', 64);
        fake.Models["acme/upscaler"] = new FakeModel();
        fake.Versions[version] = "acme/upscaler";
        await using var services = TestHost.Create(fake);

        var id = await services.Backend().SubmitAsync(new GenerationRequest(version, new() { ["prompt"] = "x" }), Ct);
        var id2 = await services.Backend().SubmitAsync(new GenerationRequest($"acme/upscaler:{version}", new() { ["prompt"] = "y" }), Ct);

        var creates = fake.RequestsOf("create");
        Assert.All(creates, c => Assert.Equal("/v1/predictions", c.Path));
        Assert.Contains($"\"version\":\"{version}\"", creates[0].Body, StringComparison.Ordinal);
        Assert.Contains($"\"version\":\"acme/upscaler:{version}\"", creates[1].Body, StringComparison.Ordinal);
        Assert.Equal("acme/upscaler", fake.Get(id).Model);
        Assert.Equal(GenerationStatus.Succeeded, (await services.Backend().WaitAsync(id2, Ct)).Status);
    }
}
