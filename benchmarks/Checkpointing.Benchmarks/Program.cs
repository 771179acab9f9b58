using BenchmarkDotNet.Running;
using Checkpointing.Benchmarks;

// dotnet run -c Release --project benchmarks/Checkpointing.Benchmarks -- --filter '*'   (or benchmarks/run.sh)
var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, Jobs.Config(args));
return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
