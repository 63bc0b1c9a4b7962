using System.CommandLine;
using System.Globalization;
using LshCluster.Cli.IO;
using LshCluster.Core.Hashing;
using LshCluster.Core.Planning;

namespace LshCluster.Cli.Commands;

/// <summary><c>lshc plan</c>: chooses k, L and probes for a threshold and recall, and optionally writes the scheme.</summary>
internal static class PlanCommand
{
    public static Command Create()
    {
        var dim = new Option<int>("--dim") { Description = "Values per vector", Required = true };
        var threshold = new Option<double>("--threshold") { Description = "Lowest cosine that must be found, e.g. 0.98", Required = true };
        var recall = new Option<double>("--recall") { Description = "Chance of finding a pair at exactly the threshold", DefaultValueFactory = _ => 0.99 };
        var sample = new Option<FileInfo?>("--sample") { Description = "Representative vectors (.fvecs, .npy or .jsonl) to centre anisotropic data and estimate candidates" };
        var family = FamilyOption();
        var probes = new Option<int>("--max-probes") { Description = "Most probes per table to consider (1 disables multiprobe)", DefaultValueFactory = _ => 8 };
        var vectors = new Option<long>("--vectors") { Description = "Collection size at which to estimate candidates per insert", DefaultValueFactory = _ => 1_000_000 };
        var rungs = new Option<string?>("--rungs") { Description = "Threshold ladder for the scheme, e.g. 0.99,0.98 (default: the threshold)" };
        var shards = new Option<int>("--shards") { Description = "Virtual shards", DefaultValueFactory = _ => 1024 };
        var seed = new Option<ulong?>("--seed") { Description = "Seed of the rotations (default: fixed)" };
        var output = new Option<FileInfo?>("--out") { Description = "Write the chosen scheme to this file" };
        var memory = MemoryOption();

        var command = new Command("plan", "Choose LSH parameters (family, k, L, probes) for a target threshold and recall")
        {
            dim, threshold, recall, sample, family, probes, vectors, rungs, shards, seed, output, memory,
        };
        command.SetAction(parse =>
        {
            var d = parse.GetValue(dim);
            var samplePath = parse.GetValue(sample);
            List<float[]>? sampleVectors = null;
            if (samplePath is not null)
            {
                sampleVectors = [.. VectorFileReader.Read(samplePath.FullName).Take(2000).Select(r => r.Values)];
            }

            var request = new PlanRequest
            {
                Dimension = d,
                Threshold = parse.GetValue(threshold),
                Recall = parse.GetValue(recall),
                Family = FamilyOf(parse.GetValue(family)),
                MaxProbes = parse.GetValue(probes),
                StoredVectors = parse.GetValue(vectors),
                Sample = sampleVectors,
                Rungs = ParseRungs(parse.GetValue(rungs)),
                ShardCount = parse.GetValue(shards),
                MaxBytesPerVector = parse.GetValue(memory),
            };
            if (parse.GetValue(seed) is { } s)
            {
                request = request with { Seed = s };
            }

            var plan = LshPlanner.Plan(request);
            Print(plan, request);
            if (parse.GetValue(output) is { } file)
            {
                File.WriteAllBytes(file.FullName, plan.Scheme.ToBytes());
                Console.WriteLine($"scheme written to {file.FullName} (fingerprint {plan.Scheme.Fingerprint:x16})");
            }

            return 0;
        });
        return command;
    }

    /// <summary>The <c>--max-bytes-per-vector</c> option of the commands that plan a scheme.</summary>
    internal static Option<double?> MemoryOption() => new("--max-bytes-per-vector")
    {
        Description = "Most resident memory per stored vector the plan may take, as the planner predicts it (values, record, bucket entries; e.g. 4077 = 1.3 × 4d at d = 784); default: no limit",
    };

    /// <summary>The <c>--family</c> option of the commands that plan a scheme.</summary>
    internal static Option<string> FamilyOption()
    {
        var family = new Option<string>("--family")
        {
            Description = "any (the cheaper of cross-polytope and sign bands), cross-polytope, sign-bands or hyperplane",
            DefaultValueFactory = _ => "any",
        };
        family.AcceptOnlyFromAmong("any", "cross-polytope", "sign-bands", "hyperplane");
        return family;
    }

    /// <summary>The family a <c>--family</c> value names; null for any.</summary>
    internal static LshFamily? FamilyOf(string? name) => name switch
    {
        "cross-polytope" => LshFamily.CrossPolytope,
        "sign-bands" => LshFamily.SignBands,
        "hyperplane" => LshFamily.Hyperplane,
        _ => null,
    };

    internal static IReadOnlyList<float>? ParseRungs(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        return [.. text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(part =>
            float.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
                ? value
                : throw new ArgumentException($"--rungs: '{part}' is not a number", "rungs"))];
    }

    private static void Print(LshPlan plan, PlanRequest request)
    {
        var c = plan.Chosen;
        var s = plan.Scheme;
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"LSH plan for d={request.Dimension} (padded {s.PaddedDimension}), threshold {request.Threshold}, target recall {request.Recall}"));
        Console.WriteLine(string.Create(inv, $"  family                 {s.Family}"));
        Console.WriteLine(string.Create(inv, $"  k (hashes per table)   {c.HashesPerTable}"));
        Console.WriteLine(string.Create(inv, $"  L (tables)             {c.Tables}"));
        Console.WriteLine(string.Create(inv, $"  probes per table       {c.Probes}"));
        Console.WriteLine(string.Create(inv, $"  table hit probability  {c.TableHitProbability:F4}"));
        Console.WriteLine(string.Create(inv, $"  predicted recall       {c.PredictedRecall:F4}  (pairs at exactly cos {request.Threshold})"));
        Console.WriteLine(string.Create(inv, $"  rotations per vector   {c.Rotations}"));
        Console.WriteLine(string.Create(inv, $"  bucket entries walked  {c.BucketEntriesPerInsert:G4}  per insert (at {request.StoredVectors:N0} stored vectors)"));
        Console.WriteLine(string.Create(inv, $"  candidates per insert  {c.CandidatesPerInsert:G4}  (passing the sketch filter)"));
        Console.WriteLine(string.Create(inv, $"  memory per vector      {c.BytesPerVector:N0} B  (= {c.BytesPerVector / (4.0 * request.Dimension):F2} × 4d, predicted)"));
        if (s.Center is not null)
        {
            Console.WriteLine(string.Create(inv, $"  centring               on (|mu| = {plan.CenterNorm:F3}); near-duplicates at the threshold have median centred cosine {plan.EffectiveThreshold:F4}"));
        }
        else if (request.Sample is not null)
        {
            Console.WriteLine(plan.Options.Any(o => o.Centred)
                ? string.Create(inv, $"  centring               off (|mu| = {plan.CenterNorm:F3}; weighed, and uncentred hashing is cheaper for this sample)")
                : string.Create(inv, $"  centring               off (|mu| = {plan.CenterNorm:F3}: the sample is nearly isotropic)"));
        }

        Console.WriteLine();
        Console.WriteLine("  alternatives (cheapest first):  family            k    L    T  rotations   recall   entries   candidates   est. cost/insert   centred   B/vector");
        // The eight cheapest, then the three cheapest of each family that none of those is of.
        var cheapest = plan.Options.Take(8).ToList();
        var others = plan.Options.Where(o => cheapest.All(x => x.Family != o.Family)).GroupBy(o => o.Family).SelectMany(g => g.Take(3));
        foreach (var o in cheapest.Concat(others))
        {
            Console.WriteLine(string.Create(inv, $"                                {Name(o.Family),-15} {o.HashesPerTable,3} {o.Tables,4} {o.Probes,4} {o.Rotations,10}   {o.PredictedRecall:F4} {o.BucketEntriesPerInsert,9:G4}   {o.CandidatesPerInsert,10:G4}   {o.CostNanoseconds / 1000,8:F1} µs   {(o.Centred ? "yes" : "no "),-7}   {o.BytesPerVector,8:N0}"));
        }
    }

    private static string Name(LshFamily family) => family switch
    {
        LshFamily.CrossPolytope => "cross-polytope",
        LshFamily.SignBands => "sign-bands",
        _ => "hyperplane",
    };
}
