using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Checkpointing.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Checkpointing.Tests;

/// <summary>
/// How the runner schedules units: the budget reservation of a finished unit becomes its cost atomically, and progress
/// events arrive in order. Both races are made certain by holding a unit at the moment the runner counts it as
/// completed (the <c>checkpointing.units.completed</c> measurement of a phase only this test uses).
/// </summary>
public sealed class UnitSchedulingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_budget_that_fits_every_unit_exactly_runs_every_unit_even_when_a_finished_unit_is_slow_to_be_counted()
    {
        // Budget 0.21 = phase 1 (0.01) + 4 units of 0.05. Unit 2 finishes first and is held right after it is saved;
        // meanwhile units 1 and 3 finish and unit 4 starts: unit 2's cost must not count both as spent and reserved.
        var phase = new CountedPhase(maxConcurrency: 3, delayOf: i => i == 2 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(300));
        using var hold = new MeasurementHold(phase.Name, holdFirstFor: TimeSpan.FromSeconds(3), releaseWhen: count => count >= 4);
        await using var host = Host(phase);

        var result = await host.Runner.StartAsync(new StartRunRequest("units", "owner", JsonSerializer.SerializeToElement(new { })) { Budget = 0.21m, AutoContinue = true }, Ct);

        Assert.True(result.Status == RunStatus.Completed, result.Run.Error);
        Assert.Equal(0.21m, result.Run.Cost);
        Assert.Equal(4, phase.Generated);
    }

    [Fact]
    public async Task A_budget_smaller_than_the_next_units_estimate_refuses_that_unit_and_names_how_to_raise_it()
    {
        var phase = new CountedPhase(maxConcurrency: 1, delayOf: _ => TimeSpan.Zero);
        await using var host = Host(phase);

        var result = await host.Runner.StartAsync(new StartRunRequest("units", "owner", JsonSerializer.SerializeToElement(new { })) { Budget = 0.15m, AutoContinue = true }, Ct);

        Assert.Equal(RunStatus.Failed, result.Status);
        Assert.Equal(2, phase.Generated);
        Assert.Contains("SetBudgetAsync", result.Run.Error, StringComparison.Ordinal);
        Assert.Contains("unit 3", result.Run.Error, StringComparison.Ordinal);

        await host.Runner.SetBudgetAsync(result.Run.Id, 0.21m, Ct);
        var retried = await host.Runner.RetryAsync(result.Run.Id, Ct);
        Assert.Equal(RunStatus.Completed, retried.Status);
        Assert.Equal(4, phase.Generated);
        Assert.Equal(0.21m, retried.Run.Cost);
    }

    [Fact]
    public async Task Unit_progress_events_arrive_in_order_when_units_finish_together()
    {
        // The first unit counted is held until another one has been counted too: its count must still be 1 of 4.
        var phase = new CountedPhase(maxConcurrency: 4, delayOf: _ => TimeSpan.FromMilliseconds(50));
        using var hold = new MeasurementHold(phase.Name, holdFirstFor: TimeSpan.FromSeconds(2), releaseWhen: count => count >= 2);
        var bus = new RecordingBus();
        await using var host = Host(phase, bus);

        var result = await host.Runner.StartAsync(new StartRunRequest("units", "owner", JsonSerializer.SerializeToElement(new { })) { AutoContinue = true }, Ct);

        Assert.Equal(RunStatus.Completed, result.Status);
        var progress = bus.Events.OfType<UnitCompleted>().Where(e => e.RunId == result.Run.Id).Select(e => e.Completed).ToList();
        Assert.Equal([1, 2, 3, 4], progress);
    }

    private static TestHost Host(CountedPhase phase, ICheckpointEventBus? bus = null) =>
        new(
            b => b.AddPipeline("units", p => p.AddPhase(new PlanPhase()).AddPhase(phase)),
            services: s =>
            {
                if (bus is not null)
                {
                    s.AddSingleton(bus);
                }
            });

    private sealed class PlanPhase() : Phase("plan")
    {
        public override IReadOnlyList<ArtifactSpec> Artifacts { get; } = [new ArtifactSpec("plan")];

        public override decimal EstimateCost(PhaseContext context) => 0.01m;

        public override Task<PhaseResult> ExecuteAsync(PhaseContext context, CancellationToken cancellationToken) =>
            Task.FromResult(new PhaseResult([new PhaseArtifact("plan", "plan", ArtifactContent.FromJson(JsonSerializer.SerializeToElement(new { units = 4 })))], Cost: 0.01m));
    }

    private sealed class CountedPhase(int maxConcurrency, Func<int, TimeSpan> delayOf)
        : UnitPhase("units-" + Guid.NewGuid().ToString("N"), new ArtifactSpec("unit"))
    {
        private int _generated;

        public int Generated => Volatile.Read(ref _generated);

        public override int MaxConcurrency => maxConcurrency;

        public override decimal EstimateUnitCost(UnitContext context) => 0.05m;

        public override Task<int> CountUnitsAsync(PhaseContext context, CancellationToken cancellationToken) => Task.FromResult(4);

        public override async Task<UnitResult> GenerateUnitAsync(UnitContext context, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _generated);
            await Task.Delay(delayOf(context.UnitIndex), cancellationToken);
            return new UnitResult(ArtifactContent.FromJson(JsonSerializer.SerializeToElement(new { unit = context.UnitIndex })), Cost: 0.05m);
        }
    }

    /// <summary>Holds the first "unit completed" measurement of one phase until later ones arrive (or a timeout).</summary>
    private sealed class MeasurementHold : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ManualResetEventSlim _release = new();
        private int _count;

        public MeasurementHold(string phase, TimeSpan holdFirstFor, Func<int, bool> releaseWhen)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "Checkpointing" && instrument.Name.Contains("units", StringComparison.Ordinal))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
            {
                var ours = false;
                foreach (var tag in tags)
                {
                    ours |= tag.Value as string == phase;
                }

                if (!ours)
                {
                    return;
                }

                var count = Interlocked.Increment(ref _count);
                if (releaseWhen(count))
                {
                    _release.Set();
                }

                if (count == 1)
                {
                    _release.Wait(holdFirstFor);
                }
            });
            _listener.Start();
        }

        public void Dispose()
        {
            _listener.Dispose();
            _release.Dispose();
        }
    }

    private sealed class RecordingBus : ICheckpointEventBus
    {
        public ConcurrentQueue<CheckpointEvent> Events { get; } = new();

        public ValueTask PublishAsync(CheckpointEvent @event, CancellationToken cancellationToken = default)
        {
            Events.Enqueue(@event);
            return ValueTask.CompletedTask;
        }

        public IAsyncEnumerable<CheckpointEvent> SubscribeAsync(Guid? runId, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();
    }
}
