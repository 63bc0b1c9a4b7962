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
        var sample = new Option<FileInfo?>("--sample") { Description = "Representative vectors, to centre anisotropic data and measure its buckets (without one, the cluster learns from its first vectors: see --learn)" };
        var learn = new Option<int>("--learn")
        {
            Description = "Without --sample: answer the first N inserts exactly (a brute force), then plan from them and fix the hashing; 0 plans at once for random directions",
            DefaultValueFactory = _ => LearningPlan.DefaultLearnFrom,
        };
        var expected = new Option<long>("--vectors") { Description = "Collection size to plan for (candidates per insert are estimated at it)", DefaultValueFactory = _ => 100_000 };
        var shards = new Option<int>("--shards") { Description = "Virtual shards (fixed for the cluster's life)", DefaultValueFactory = _ => 1024 };
        var probes = new Option<int>("--max-probes") { Description = "Most probes per table (1 disables multiprobe)", DefaultValueFactory = _ => 1 };
        var memory = PlanCommand.MemoryOption();
        var command = new Command("create", "Create an empty cluster: plan its hashing for the rungs from a sample, or let it learn from its first vectors, and store the scheme")
        {
            store, dim, rungs, recall, sample, learn, expected, shards, probes, memory,
        };
        command.SetAction(async (parse, cancel) =>
        {
            var ladder = PlanCommand.ParseRungs(parse.GetValue(rungs)) ?? throw new ArgumentException("--rungs: give at least one threshold", "rungs");
            var learnFrom = parse.GetValue(learn);
            if (learnFrom < 0)
            {
                throw new ArgumentException($"--learn: {learnFrom} vectors; give 0 (plan at once) or more", "learn");
            }

            var file = parse.GetValue(sample);
            var scheme = file is null && learnFrom > 0
                ? Learning(parse.GetValue(dim), ladder, learnFrom, parse.GetValue(recall), parse.GetValue(shards), parse.GetValue(probes), parse.GetValue(expected), parse.GetValue(memory))
                : Plan(parse.GetValue(dim), ladder, parse.GetValue(recall), parse.GetValue(shards), parse.GetValue(probes),
                    file is null ? null : [.. VectorFileReader.Read(file.FullName).Take(2000).Select(r => r.Values)],
                    storedVectors: parse.GetValue(expected), maxBytesPerVector: parse.GetValue(memory));
            await StoreOptions.CreateClusterAsync(parse.GetValue(store)!, scheme, cancel);
            Console.WriteLine($"created cluster: {scheme}");
            return 0;
        });
        return command;
    }

    /// <summary>The scheme of a cluster that learns its hashing from its first <paramref name="learnFrom"/> vectors (ADR 0009).</summary>
    /// <exception cref="ArgumentException">A value is out of range; the message names the option.</exception>
    public static LshScheme Learning(int dimension, IReadOnlyList<float> rungs, int learnFrom, double recall, int shards, int maxProbes, long expectedVectors,
        double? maxBytesPerVector)
    {
        var plan = new LearningPlan(learnFrom, recall, maxProbes, expectedVectors, maxBytesPerVector);
        if (plan.Problem() is { } problem)
        {
            // The plan's field names, as the options that set them.
            var option = problem[..problem.IndexOf(':', StringComparison.Ordinal)] switch
            {
                "learnFrom" => "learn",
                "maxProbes" => "max-probes",
                "expectedVectors" => "vectors",
                "maxBytesPerVector" => "max-bytes-per-vector",
                var other => other,
            };
            throw new ArgumentException($"--{option}{problem[problem.IndexOf(':', StringComparison.Ordinal)..]}", option);
        }

        return LshScheme.ForLearning(dimension, rungs, plan, shards);
    }

    public static LshScheme Plan(int dimension, IReadOnlyList<float> rungs, double recall, int shards, int maxProbes, IReadOnlyList<float[]>? sample, LshFamily? family = null,
        long storedVectors = 100_000, double? maxBytesPerVector = null) =>
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
