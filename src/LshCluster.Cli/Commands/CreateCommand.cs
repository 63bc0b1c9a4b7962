using System.CommandLine;
using LshCluster.Cli.IO;
using LshCluster.Core.Hashing;
using LshCluster.Core.Planning;

namespace LshCluster.Cli.Commands;

/// <summary><c>lshc create</c>: plans a scheme for the rungs and stores a new, empty cluster.</summary>
internal static class CreateCommand
{
    public static Command Create()
    {
        var store = StoreOptions.Store();
        var dim = new Option<int>("--dim") { Description = "Values per vector", Required = true };
        var rungs = new Option<string>("--rungs") { Description = "Similarity thresholds, e.g. 0.99,0.98", Required = true };
        var recall = new Option<double>("--recall") { Description = "Chance of finding a pair at exactly the lowest rung", DefaultValueFactory = _ => 0.99 };
        var sample = new Option<FileInfo?>("--sample") { Description = "Representative vectors, to centre anisotropic data" };
        var shards = new Option<int>("--shards") { Description = "Virtual shards (fixed for the cluster's life)", DefaultValueFactory = _ => 1024 };
        var probes = new Option<int>("--max-probes") { Description = "Most probes per table (1 disables multiprobe)", DefaultValueFactory = _ => 1 };
        var memory = PlanCommand.MemoryOption();
        var command = new Command("create", "Create an empty cluster: plan k, L and probes for the rungs and store the scheme")
        {
            store, dim, rungs, recall, sample, shards, probes, memory,
        };
        command.SetAction(async (parse, cancel) =>
        {
            var ladder = PlanCommand.ParseRungs(parse.GetValue(rungs)) ?? throw new ArgumentException("--rungs: give at least one threshold", "rungs");
            var scheme = Plan(parse.GetValue(dim), ladder, parse.GetValue(recall), parse.GetValue(shards), parse.GetValue(probes),
                parse.GetValue(sample) is { } file ? [.. VectorFileReader.Read(file.FullName).Take(2000).Select(r => r.Values)] : null,
                maxBytesPerVector: parse.GetValue(memory));
            await StoreOptions.CreateClusterAsync(parse.GetValue(store)!, scheme, cancel);
            Console.WriteLine($"created cluster: {scheme}");
            return 0;
        });
        return command;
    }

    public static LshScheme Plan(int dimension, IReadOnlyList<float> rungs, double recall, int shards, int maxProbes, IReadOnlyList<float[]>? sample, LshFamily? family = null,
        int storedVectors = 100_000, double? maxBytesPerVector = null) =>
        LshPlanner.Plan(new PlanRequest
        {
            Family = family,
            Dimension = dimension,
            Threshold = rungs.Min(),
            Recall = recall,
            Rungs = rungs,
            ShardCount = shards,
            MaxProbes = maxProbes,
            Sample = sample,
            StoredVectors = storedVectors,
            MaxBytesPerVector = maxBytesPerVector,
        }).Scheme;
}
