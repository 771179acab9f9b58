using Checkpointing.Providers.Replicate.Testing;

namespace Checkpointing.Providers.Replicate.Tests;

public sealed class LifecycleTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_failed_prediction_reports_its_error_and_bills_its_compute_time()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models["acme/gpu-model"] = new FakeModel { FailWith = "CUDA out of memory", PredictTime = 2.5 };
        await using var services = TestHost.Create(fake, o => o.Prices["acme/gpu-model"] = new ReplicatePrice { PerPredictSecond = 0.002m, PerImage = 1m });
        var backend = services.Backend();

        var result = await backend.WaitAsync(await backend.SubmitAsync(new GenerationRequest("acme/gpu-model", new() { ["prompt"] = "x" }), Ct), Ct);

        Assert.Equal(GenerationStatus.Failed, result.Status);
        Assert.Equal("CUDA out of memory", result.Error);
        Assert.Empty(result.Outputs);
        Assert.Equal(0.005m, result.Cost);
    }

    [Fact]
    public async Task A_deadline_that_passes_before_the_start_aborts_the_prediction_at_no_cost()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.DeadlineScale = 0.01; // 5 s become 50 ms
        fake.Models[ReplicateModels.Veo3] = new FakeModel { Output = FakeOutputKind.SingleFile, Extension = ".mp4", Starting = TimeSpan.FromMilliseconds(500) };
        await using var services = TestHost.Create(fake, o => o.Prices[ReplicateModels.Veo3] = new ReplicatePrice { PerVideoSecond = 0.4m, PerPredictSecond = 1m });
        var backend = services.Backend();

        var id = await backend.SubmitAsync(ReplicateModels.Video("queued too long", durationSeconds: 8, model: ReplicateModels.Veo3, deadline: TimeSpan.FromSeconds(2)), Ct);
        var result = await backend.WaitAsync(id, Ct);

        Assert.Equal("5s", fake.RequestsOf("create")[0].Header("Cancel-After"));
        Assert.Equal(GenerationStatus.Aborted, result.Status);
        Assert.Contains("deadline", result.Error, StringComparison.Ordinal);
        Assert.Equal(0m, result.Cost);
    }

    [Fact]
    public async Task A_deadline_that_passes_while_running_cancels_the_prediction()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.DeadlineScale = 0.01;
        fake.Models[ReplicateModels.KlingV21] = new FakeModel { Output = FakeOutputKind.SingleFile, Extension = ".mp4", Starting = TimeSpan.FromMilliseconds(5), Processing = TimeSpan.FromSeconds(5), RequiredInputs = [] };
        await using var services = TestHost.Create(fake);
        var backend = services.Backend();

        var id = await backend.SubmitAsync(ReplicateModels.Video("long", "https://example.com/a.png", model: ReplicateModels.KlingV21, deadline: TimeSpan.FromSeconds(10)), Ct);
        var result = await backend.WaitAsync(id, Ct);

        Assert.Equal("10s", fake.RequestsOf("create")[0].Header("Cancel-After"));
        Assert.Equal(GenerationStatus.Canceled, result.Status);
        Assert.Empty(fake.RequestsOf("cancel"));
    }

    [Fact]
    public async Task An_unknown_status_counts_as_running()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.FluxDev] = new FakeModel { RunningStatus = "warming_up", Processing = TimeSpan.FromMilliseconds(300) };
        await using var services = TestHost.Create(fake);
        var backend = services.Backend();

        var id = await backend.SubmitAsync(ReplicateModels.Image("x", model: ReplicateModels.FluxDev), Ct);
        var result = await backend.WaitAsync(id, Ct);

        Assert.Equal(GenerationStatus.Succeeded, result.Status);
        Assert.True(fake.RequestsOf("get").Count >= 3);
    }

    [Fact]
    public async Task A_wait_gives_up_after_the_overall_timeout_and_leaves_the_prediction_running()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.Veo3] = new FakeModel { RunningStatus = "some_new_status", Processing = TimeSpan.FromSeconds(30) };
        await using var services = TestHost.Create(fake, o => o.WaitTimeout = TimeSpan.FromMilliseconds(300));
        var backend = services.Backend();
        var id = await backend.SubmitAsync(ReplicateModels.Video("forever", model: ReplicateModels.Veo3), Ct);

        var error = await Assert.ThrowsAsync<ReplicateWaitTimeoutException>(() => backend.WaitAsync(id, Ct));

        Assert.Equal(id, error.JobId);
        Assert.True(error.IsTransient);
        Assert.Equal("some_new_status", error.LastStatus);
        Assert.Empty(fake.RequestsOf("cancel"));
    }

    [Fact]
    public async Task A_fast_model_is_created_with_prefer_wait_and_needs_no_poll()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.SyncOutputsAsDataUris = true;
        fake.Models[ReplicateModels.FluxSchnell] = new FakeModel { Files = 2, Extension = ".webp" };
        await using var services = TestHost.Create(fake, o =>
        {
            o.SyncModels.Add(ReplicateModels.FluxSchnell);
            o.SyncWaitSeconds = 5;
        });
        var backend = services.Backend();

        var id = await backend.SubmitAsync(ReplicateModels.Image("quick", numOutputs: 2, model: ReplicateModels.FluxSchnell), Ct);
        var result = await backend.WaitAsync(id, Ct);

        Assert.Equal("wait=5", fake.RequestsOf("create")[0].Header("Prefer"));
        Assert.Empty(fake.RequestsOf("get"));
        Assert.Equal(GenerationStatus.Succeeded, result.Status);
        Assert.Equal(0.006m, result.Cost);
        var files = result.Outputs.Cast<FileOutput>().ToList();
        Assert.Equal(2, files.Count);
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(MediaTypes.WebP, files[i].MediaType);
            Assert.Equal(fake.FileBytes(fake.Get(id).Files[i]), await files[i].ReadAllAsync());
        }

        Assert.Empty(fake.RequestsOf("download"));
    }

    [Fact]
    public async Task A_sync_create_that_runs_out_of_time_falls_back_to_polling()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.SyncWaitScale = 0.1; // wait=1 holds 100 ms
        fake.Models[ReplicateModels.FluxDev] = new FakeModel { Processing = TimeSpan.FromMilliseconds(1500) };
        await using var services = TestHost.Create(fake, o =>
        {
            o.SyncModels.Add(ReplicateModels.FluxDev);
            o.SyncWaitSeconds = 1;
        });
        var backend = services.Backend();

        var id = await backend.SubmitAsync(ReplicateModels.Image("slower", model: ReplicateModels.FluxDev), Ct);
        Assert.False(fake.Get(id).IsTerminal);
        var result = await backend.WaitAsync(id, Ct);

        Assert.Equal(GenerationStatus.Succeeded, result.Status);
        Assert.NotEmpty(fake.RequestsOf("get"));
        Assert.Equal(fake.FileBytes(fake.Get(id).Files[0]), await ((FileOutput)result.Outputs[0]).ReadAllAsync());
    }

    [Fact]
    public async Task Outputs_expire_with_the_retention_period_and_a_late_reattach_is_not_a_failure()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.OutputTtl = TimeSpan.FromMilliseconds(700);
        fake.Models[ReplicateModels.FluxDev] = new FakeModel();
        await using var services = TestHost.Create(fake);
        var backend = services.Backend();
        var id = await backend.SubmitAsync(ReplicateModels.Image("x", model: ReplicateModels.FluxDev), Ct);
        var result = await backend.WaitAsync(id, Ct);
        var file = (FileOutput)Assert.Single(result.Outputs);

        await Task.Delay(900, Ct);

        var expired = await Assert.ThrowsAsync<ReplicateNotFoundException>(() => file.OpenReadAsync(Ct));
        Assert.Equal(id, expired.JobId);
        var late = await backend.WaitAsync(id, Ct);
        Assert.Equal(GenerationStatus.Succeeded, late.Status);
        Assert.Empty(late.Outputs);
    }

    [Fact]
    public async Task CancelAsync_cancels_a_running_prediction_and_ignores_a_finished_one()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.Hailuo02] = new FakeModel { Processing = TimeSpan.FromSeconds(30) };
        fake.Models[ReplicateModels.FluxDev] = new FakeModel();
        await using var services = TestHost.Create(fake);
        var backend = services.Backend();
        var running = await backend.SubmitAsync(ReplicateModels.Video("x", model: ReplicateModels.Hailuo02), Ct);
        var done = await backend.SubmitAsync(ReplicateModels.Image("y", model: ReplicateModels.FluxDev), Ct);
        await backend.WaitAsync(done, Ct);

        await backend.CancelAsync(running, Ct);
        await backend.CancelAsync(done, Ct);

        Assert.Equal(GenerationStatus.Canceled, (await backend.WaitAsync(running, Ct)).Status);
        Assert.Equal("succeeded", fake.Get(done).Status);
    }
}
