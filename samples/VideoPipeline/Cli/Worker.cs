using System.CommandLine;
using Checkpointing;
using Checkpointing.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using VideoPipeline.Hosting;

namespace VideoPipeline.Cli;

/// <summary>
/// <c>worker</c>: a <see cref="CheckpointWorker"/> over the configured store and backend. It executes runs queued with
/// <c>--queue</c> and takes over interrupted ones once their lease has expired. Start as many as you like, on one data
/// folder (SQLite) or one PostgreSQL database: each phase executes once. Ctrl+C stops it gracefully: jobs in flight
/// keep running and the next worker re-attaches to them.
/// </summary>
public static class Worker
{
    public static Command Command()
    {
        var concurrency = new Option<int>("--concurrency") { Description = "How many runs to execute at once.", DefaultValueFactory = _ => 4 };
        var untilIdle = new Option<bool>("--until-idle") { Description = "Exit once no run is queued or running (drain the queue, then stop)." };
        var command = new Command("worker", "Execute queued and interrupted runs until Ctrl+C (or, with --until-idle, until there is nothing left to do).");
        command.Options.Add(concurrency);
        command.Options.Add(untilIdle);
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                return await RunAsync(parse.GetValue<string?>("--data"), parse.GetValue(concurrency), parse.GetValue(untilIdle), ct);
            }
            catch (Exception e) when (e is CheckpointingException or ConfigurationException or OptionsValidationException or IOException or UsageException)
            {
                Ui.Error(e is OptionsValidationException o ? string.Join(" ", o.Failures) : e.Message);
                return 1;
            }
            catch (AggregateException e) when (e.InnerExceptions.All(i => i is OptionsValidationException))
            {
                Ui.Error(string.Join(" ", e.InnerExceptions.SelectMany(i => ((OptionsValidationException)i).Failures)));
                return 1;
            }
        });
        return command;
    }

    private static async Task<int> RunAsync(string? data, int concurrency, bool untilIdle, CancellationToken ct)
    {
        if (concurrency is < 1 or > 256)
        {
            throw new UsageException($"--concurrency is {concurrency}; give between 1 and 256.");
        }

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            ApplicationName = "VideoPipeline",
            ContentRootPath = AppContext.BaseDirectory,
        });
        AppHost.Configure(builder, data);
        builder.Services.AddCheckpointingWorker(o => o.MaxConcurrency = concurrency);
        using var host = builder.Build();
        AppHost.Validate(host.Services);
        var worker = host.Services.GetRequiredService<CheckpointWorker>();
        var store = host.Services.GetRequiredService<ICheckpointStore>();
        await host.StartAsync(ct);

        // Ctrl+C reaches either the command line's token or the host's lifetime, whichever registered first: stop on both.
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(ct, host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);
        ct = stopping.Token;
        Console.Out.WriteLine($"worker {worker.Owner} started (up to {concurrency} runs at once); Ctrl+C stops");
        await Console.Out.FlushAsync(ct);
        try
        {
            var idle = 0;
            while (true)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), ct);
                if (!untilIdle)
                {
                    continue;
                }

                var open = (await store.ListRunsAsync(null, 10_000, ct)).Any(r => r.Status is RunStatus.Queued or RunStatus.Running);
                idle = open || worker.Executing > 0 ? 0 : idle + 1;
                if (idle >= 2)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }

        // A graceful stop: the worker stops claiming, leaves its jobs running and releases its leases.
        await host.StopAsync(CancellationToken.None);
        Console.Out.WriteLine($"worker {worker.Owner} stopped");
        return 0;
    }
}
