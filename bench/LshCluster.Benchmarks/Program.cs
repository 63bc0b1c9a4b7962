using BenchmarkDotNet.Running;
using LshCluster.Benchmarks;

// Kernels: dotnet run -c Release --project bench/LshCluster.Benchmarks -- --filter '*'
// Allocation sites of a trace (bench/cluster-vs-embedded.sh with LSHC_BENCH_TRACE=FILE writes one):
//   dotnet run -c Release --project bench/LshCluster.Benchmarks -- allocation-sites FILE [DEPTH] [TOP]
if (args is ["allocation-sites", var trace, ..])
{
    AllocationSites.Print(trace, args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 5,
        args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 40, Console.Out);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
