// Each test starts several processes; two at a time keep a 2-core machine responsive.
[assembly: Xunit.v3.Parallelization(MaxThreads = 2)]
