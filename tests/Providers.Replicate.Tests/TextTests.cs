using Checkpointing.Providers.Replicate.Testing;

namespace Checkpointing.Providers.Replicate.Tests;

public sealed class TextTests
{
    private static readonly string[] Tokens = ["Beat", " one", ":", " sunrise", "\n", "Beat two:", " line a\nline b"];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_llms_tokens_are_joined_into_one_text_and_priced_per_token()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.Llama3_70BInstruct] = new FakeModel { Output = FakeOutputKind.Tokens, Tokens = Tokens, InputTokens = 1200 };
        await using var services = TestHost.Create(fake);
        var backend = services.Backend();

        var id = await backend.SubmitAsync(ReplicateModels.Text("Plan a 3-beat video", systemPrompt: "You write JSON specs.", maxTokens: 512), Ct);
        var result = await backend.WaitAsync(id, Ct);

        Assert.Equal(GenerationStatus.Succeeded, result.Status);
        var text = Assert.IsType<TextOutput>(Assert.Single(result.Outputs));
        Assert.Equal(string.Concat(Tokens), text.Text);
        Assert.Equal(string.Concat(Tokens), result.Text);
        Assert.Equal(decimal.Round((1200 * 0.65m + Tokens.Length * 2.75m) / 1_000_000m, 6), result.Cost);
        Assert.Equal("/v1/models/meta/meta-llama-3-70b-instruct/predictions", fake.RequestsOf("create")[0].Path);
        Assert.Equal("You write JSON specs.", fake.Get(id).Input["system_prompt"]!.GetValue<string>());
        Assert.Equal(512, fake.Get(id).Input["max_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task Text_streams_over_server_sent_events_as_it_is_generated()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.Llama3_70BInstruct] = new FakeModel
        {
            Output = FakeOutputKind.Tokens,
            Tokens = Tokens,
            Starting = TimeSpan.FromMilliseconds(50),
            Processing = TimeSpan.FromMilliseconds(700),
        };
        await using var services = TestHost.Create(fake);
        var backend = services.Backend();
        var id = await backend.SubmitAsync(ReplicateModels.Text("Plan"), Ct);

        var chunks = new List<string>();
        var sawRunning = false;
        await foreach (var chunk in backend.StreamTextAsync(id, Ct))
        {
            chunks.Add(chunk);
            sawRunning |= !fake.Get(id).IsTerminal;
        }

        Assert.Equal(Tokens, chunks);
        Assert.True(sawRunning, "no chunk arrived before the prediction finished");
        var stream = Assert.Single(fake.RequestsOf("stream"));
        Assert.Equal("text/event-stream", stream.Header("Accept"));
        Assert.Equal(string.Concat(Tokens), (await backend.WaitAsync(id, Ct)).Text);
    }

    [Fact]
    public async Task A_failed_stream_raises_the_error()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.Llama3_70BInstruct] = new FakeModel { Output = FakeOutputKind.Tokens, Tokens = ["a", "b"], FailWith = "model crashed", Processing = TimeSpan.FromMilliseconds(200) };
        await using var services = TestHost.Create(fake);
        var backend = services.Backend();
        var id = await backend.SubmitAsync(ReplicateModels.Text("Plan"), Ct);

        var error = await Assert.ThrowsAsync<ReplicateException>(async () =>
        {
            await foreach (var _ in backend.StreamTextAsync(id, Ct))
            {
            }
        });

        Assert.Contains("model crashed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_finished_prediction_streams_its_whole_text_by_polling()
    {
        await using var fake = await FakeReplicateServer.StartAsync();
        fake.Models[ReplicateModels.Llama3_70BInstruct] = new FakeModel { Output = FakeOutputKind.Tokens, Tokens = Tokens };
        await using var services = TestHost.Create(fake);
        var backend = services.Backend();
        var id = await backend.SubmitAsync(ReplicateModels.Text("Plan"), Ct);
        await backend.WaitAsync(id, Ct);

        var chunks = new List<string>();
        await foreach (var chunk in backend.StreamTextAsync(id, Ct))
        {
            chunks.Add(chunk);
        }

        Assert.Equal(string.Concat(Tokens), Assert.Single(chunks));
        Assert.Empty(fake.RequestsOf("stream"));
    }
}
