// Each test starts several processes; two at a time keep a 2-core machine responsive.
[assembly: Xunit.v3.Parallelization(MaxThreads = 2)]

namespace VideoPipeline.Tests
{
    /// <summary>
    /// Tests that interrupt processes with signals (Ctrl+C, kill) run on their own, after the parallel ones: a signal
    /// sent while other tests start and stop many processes was seen not to arrive.
    /// </summary>
    [Xunit.CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class SignalsCollection
    {
        public const string Name = "signals";
    }
}
