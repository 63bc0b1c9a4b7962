using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using LshCluster.Cli.IO;
using LshCluster.Core.Evaluation;
using LshCluster.Core.Hashing;
using LshCluster.Core.Kernels;
using LshCluster.Core.Planning;
using LshCluster.Core.Vectors;
using LshCluster.Silo.Engine;
using LshCluster.Storage;

namespace LshCluster.Cli.Commands;

/// <summary>
/// <c>lshc bench</c>: the end-to-end figures of docs/benchmarks.md — durable ingest throughput with the recall reached
/// in the same run, near-duplicate query latency, and resident memory per stored vector.
/// </summary>
internal static class BenchCommand
{
    public static Command Create() => new("bench", "End-to-end benchmarks (see docs/benchmarks.md)") { Ingest(), Query(), Memory(), BenchScaleCommand.Create() };

    private const int GrowthStep = 100_000;

    private static Command Ingest()
    {
        var store = new Option<string?>("--store") { Description = "Empty store to create the cluster in (default: a fresh SQLite file in a temp directory)" };
        var limit = new Option<int>("--limit") { Description = "Vectors to ingest", DefaultValueFactory = _ => 70_000 };
        var synthetic = new Option<bool>("--synthetic") { Description = "The planted set instead of Fashion-MNIST" };
        var dim = new Option<int>("--dim") { Description = "Dimension of the planted set", DefaultValueFactory = _ => 384 };
        var recall = new Option<double>("--recall") { Description = "Planned per-pair recall at the lowest rung", DefaultValueFactory = _ => 0.999 };
        var check = new Option<bool>("--check-recall") { Description = "Also find the exact pairs (brute force; on the planted set, within its groups) and print pair recall and precision" };
        var family = PlanCommand.FamilyOption();
        var hashes = new Option<int?>("--hashes") { Description = "k, overriding the planner's choice (with --tables; to measure a plan against others)" };
        var tables = new Option<int?>("--tables") { Description = "L, overriding the planner's choice (with --hashes)" };
        var budget = PlanCommand.MemoryOption();
        var watch = new Option<bool>("--watch") { Description = "Also read the change feed while ingesting, as a consumer would, and say how far behind it ended" };
        var memory = new Option<bool>("--memory") { Description = "Also open the store again and print the managed heap per stored vector (what a restarted process holds)" };
        var learn = new Option<int?>("--learn")
        {
            Description = "Create the cluster without a sample, as lshc create does: it answers the first N inserts exactly, then plans from them; 0 plans at once for random directions",
        };
        var command = new Command("ingest", "Durable ingest throughput (acknowledged after commit) on Fashion-MNIST or the planted set")
        {
            store, limit, synthetic, dim, recall, check, family, hashes, tables, budget, memory, learn, watch,
        };
        command.SetAction(async (parse, cancel) =>
        {
            if (parse.GetValue(dim) is var d && d is < 2 or > 4096)
            {
                throw new ArgumentException($"--dim: {d} is outside 2 … 4,096", "dim");
            }

            var (vectors, groups) = Dataset(parse.GetValue(synthetic), parse.GetValue(limit), parse.GetValue(dim));
            float[] rungs = vectors[0].Length == 784 ? [0.99f, 0.98f] : [0.99f, 0.98f, 0.95f];
            using var scratch = parse.GetValue(store) is null ? new ScratchStore("bench.db") : null;
            var target = parse.GetValue(store) ?? scratch!.Target;
            var learnFrom = parse.GetValue(learn);
            if (learnFrom < 0)
            {
                throw new ArgumentException($"--learn: {learnFrom} vectors; give 0 (plan at once) or more", "learn");
            }

            var scheme = learnFrom > 0
                ? CreateCommand.Learning(vectors[0].Length, rungs, learnFrom.Value, parse.GetValue(recall), 1024, 1, vectors.Count, parse.GetValue(budget))
                : CreateCommand.Plan(vectors[0].Length, rungs, parse.GetValue(recall), 1024, 1, learnFrom is null ? [.. vectors.Take(2000)] : null,
                    PlanCommand.FamilyOf(parse.GetValue(family)), storedVectors: vectors.Count, maxBytesPerVector: parse.GetValue(budget)); // planned for the size it is measured at
            if (learnFrom is not null && (parse.GetValue(hashes) is not null || parse.GetValue(tables) is not null || parse.GetValue(family) is not (null or "any")))
            {
                throw new ArgumentException("--learn: the cluster plans its own family, k and L from what it learns; leave out --family, --hashes and --tables", "learn");
            }

            if (parse.GetValue(hashes) is { } k && parse.GetValue(tables) is { } l)
            {
                // The planner's family, seed and centring; the given k and L.
                scheme = new LshScheme(scheme.Family, scheme.Dimension, k, l, scheme.Seed, scheme.Rungs, scheme.ShardCount, scheme.Probes, center: scheme.Center);
            }
            else if (parse.GetValue(hashes) is not null || parse.GetValue(tables) is not null)
            {
                throw new ArgumentException("--hashes and --tables: give both, or neither", parse.GetValue(hashes) is null ? "hashes" : "tables");
            }

            await StoreOptions.CreateClusterAsync(target, scheme, cancel);
            await using (var engine = await DedupEngine.OpenAsync(DedupStores.Open(target), new DedupEngineOptions { Log = ConsoleLogs.Engine }, cancel))
            {
                await IngestAndReportAsync(engine, vectors, groups, rungs, parse.GetValue(check), cancel, parse.GetValue(watch));
                scheme = engine.Scheme;
            }

            if (parse.GetValue(memory))
            {
                vectors = [];
                await ReportMemoryAsync(target, scheme, cancel);
            }

            return 0;
        });
        return command;
    }

    private static async Task IngestAndReportAsync(DedupEngine engine, List<float[]> vectors, int[]? groups, float[] rungs, bool checkRecall, CancellationToken cancel, bool watch = false)
    {
        // A consumer of the change feed reading along (issue 16: the feed keeps up at full rate, at ≤ 10 % of it).
        using var stopWatching = new CancellationTokenSource();
        var verdictsSeen = 0L;
        var watching = !watch ? Task.CompletedTask : Task.Run(async () =>
        {
            try
            {
                await foreach (var e in engine.WatchAsync(0, stopWatching.Token))
                {
                    verdictsSeen += e.Event.Kind == FeedEventKind.Verdict ? 1 : 0;
                }
            }
            catch (OperationCanceledException)
            {
                // The ingest is over.
            }
        });

        var created = engine.Scheme;
        var records = vectors.Select((v, i) => new VectorRecord(i.ToString(CultureInfo.InvariantCulture), v));
        // When each 100,000th vector was acknowledged: the rate of the first and of the last 100,000 (issue 15's growth target).
        var acknowledged = 0L;
        var marks = new List<TimeSpan>();
        var clock = Stopwatch.StartNew();
        var learnedAt = created.IsLearning ? engine.Learned.ContinueWith(_ => (clock.Elapsed, Interlocked.Read(ref acknowledged)), TaskScheduler.Default) : null;
        var (total, duplicates, refused, elapsed) = await Progress.RunAsync("ingesting", vectors.Count, advanced => IngestCommand.RunAsync(engine, records, 5000, cancel,
            advanced: n =>
            {
                advanced(n);
                if ((acknowledged += n) / GrowthStep > marks.Count)
                {
                    marks.Add(clock.Elapsed);
                }
            }));
        if (created.IsLearning)
        {
            Console.WriteLine($"learned: the cluster planned from its first {created.Learning!.LearnFrom:N0} vectors and fixed its scheme "
                + (learnedAt!.IsCompleted ? $"{learnedAt.Result.Elapsed.TotalSeconds:F2} s into the run, {learnedAt.Result.Item2:N0} vectors acknowledged (exact until then)"
                    : $"— not yet ({engine.LearningFailure?.Message ?? "still planning"})"));
        }

        if (watch)
        {
            var clock2 = Stopwatch.StartNew();
            while (Interlocked.Read(ref verdictsSeen) < total - refused && clock2.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(10, cancel);
            }

            await stopWatching.CancelAsync();
            await watching;
            Console.WriteLine($"feed: a reader saw {verdictsSeen:N0} verdicts; it caught up {clock2.Elapsed.TotalSeconds:F2} s after the last commit");
        }

        Console.WriteLine($"scheme: {engine.Scheme}");
        Console.WriteLine($"store: {engine.StoreDescription}");
        Console.WriteLine($"ingest: {total - refused:N0} vectors durable in {elapsed.TotalSeconds:F2} s = {(total - refused) / elapsed.TotalSeconds:N0} vectors/s; {duplicates:N0} duplicates; {engine.Commits:N0} commits");
        Console.WriteLine($"candidates per insert: {(double)engine.BucketCandidates / total:F1} bucket entries past the sketch filter, {(double)engine.CheckedCandidates / total:F1} exact checks");
        if (marks.Count >= 2)
        {
            // Acknowledgements come a batch at a time, so a mark may fall a batch past its 100,000th vector.
            var first = GrowthStep / marks[0].TotalSeconds;
            var last = GrowthStep / (marks[^1] - marks[^2]).TotalSeconds;
            Console.WriteLine($"growth: the first {GrowthStep:N0} at {first:N0} vectors/s, the last {GrowthStep:N0} (to {marks.Count * GrowthStep:N0}) at {last:N0} vectors/s: {last / first:F2}×");
        }

        if (checkRecall)
        {
            foreach (var line in await Progress.SpinAsync("exact pairs …", () => RecallReportAsync(engine, vectors, rungs, groups)))
            {
                Console.WriteLine(line);
            }
        }
    }

    /// <summary>The managed heap per stored vector of the cluster in <paramref name="store"/> once opened again: what a restarted process holds, without an ingest's garbage.</summary>
    private static async Task ReportMemoryAsync(string store, LshScheme scheme, CancellationToken cancel)
    {
        var before = Settle();
        await using var loaded = await DedupEngine.OpenAsync(DedupStores.Open(store), cancellationToken: cancel);
        var after = Settle();
        var stats = await loaded.GetStatsAsync();
        var perVector = (double)(after - before) / stats.Vectors;
        var predicted = LshPlanner.PredictedBytesPerVector(scheme.Dimension, scheme.Tables);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"memory: {perVector:N0} bytes per vector of managed heap after a reload = {perVector / (4.0 * scheme.Dimension):F2} × 4d ({stats.Vectors:N0} vectors, L = {scheme.Tables}; the planner predicted {predicted:N0})"));
        GC.KeepAlive(loaded);
    }

    private static Command Query()
    {
        var count = new Option<int>("--vectors") { Description = "Stored synthetic vectors", DefaultValueFactory = _ => 1_000_000 };
        var dim = new Option<int>("--dim") { Description = "Dimension", DefaultValueFactory = _ => 256 };
        var queries = new Option<int>("--queries") { Description = "Queries, each a near-duplicate (cos 0.9) of a stored vector", DefaultValueFactory = _ => 2000 };
        var command = new Command("query", "Near-duplicate query latency without insert, one thread, on random unit vectors") { count, dim, queries };
        command.SetAction(async (parse, cancel) =>
        {
            var n = parse.GetValue(count);
            var d = parse.GetValue(dim);
            var rng = new SplitMix64(99);
            var scheme = CreateCommand.Plan(d, [0.9f], 0.99, 1024, 1, null, storedVectors: n); // planned for the size it is measured at
            using var scratch = new ScratchStore("query.db");
            await StoreOptions.CreateClusterAsync(scratch.Target, scheme, cancel);
            await using var engine = await DedupEngine.OpenAsync(DedupStores.Open(scratch.Target), cancellationToken: cancel);
            var stored = new List<float[]>();
            var clock = Stopwatch.StartNew();
            for (var start = 0; start < n; start += 10_000)
            {
                var batch = new List<VectorInput>();
                for (var i = start; i < Math.Min(n, start + 10_000); i++)
                {
                    var v = new float[d];
                    SyntheticVectors.RandomUnit(ref rng, v);
                    batch.Add(new VectorInput(i.ToString(CultureInfo.InvariantCulture), v));
                    if (stored.Count < parse.GetValue(queries))
                    {
                        stored.Add(v);
                    }
                }

                await engine.InsertAsync(batch, cancel);
            }

            Console.WriteLine($"scheme: {scheme}; loaded {n:N0} vectors in {clock.Elapsed.TotalSeconds:F1} s");
            var probes = stored.Select(v =>
            {
                var q = new float[d];
                SyntheticVectors.NearDuplicate(v, 0.9, ref rng, q);
                return q;
            }).ToList();
            var found = 0;
            clock.Restart();
            for (var i = 0; i < probes.Count; i++)
            {
                var neighbours = await engine.FindNearDuplicatesAsync(probes[i], 0.9f - 1e-4f);
                if (neighbours.Any(x => x.ExternalId == i.ToString(CultureInfo.InvariantCulture)))
                {
                    found++;
                }
            }

            Console.WriteLine($"query: {clock.Elapsed.TotalMicroseconds / probes.Count:F1} µs per query (one caller), recall {(double)found / probes.Count:F4} at cos 0.9");
            return 0;
        });
        return command;
    }

    private static Command Memory()
    {
        var count = new Option<int>("--vectors") { Description = "Vectors to store", DefaultValueFactory = _ => 70_000 };
        var tables = new Option<int>("--tables") { Description = "L", DefaultValueFactory = _ => 20 };
        var command = new Command("memory", "Managed memory per stored vector at d = 784 (Fashion-MNIST, or random vectors when it is absent)") { count, tables };
        command.SetAction(async (parse, cancel) =>
        {
            var (vectors, _) = Dataset(false, parse.GetValue(count));
            var d = vectors[0].Length;
            var scheme = new LshScheme(LshFamily.CrossPolytope, d, 3, parse.GetValue(tables), 7, [0.98f], 1024);
            using var scratch = new ScratchStore("memory.db");
            await StoreOptions.CreateClusterAsync(scratch.Target, scheme, cancel);
            await using (var engine = await DedupEngine.OpenAsync(DedupStores.Open(scratch.Target), cancellationToken: cancel))
            {
                await IngestCommand.RunAsync(engine, vectors.Select((v, i) => new VectorRecord(i.ToString(CultureInfo.InvariantCulture), v)), 5000, cancel);
            }

            vectors = [];
            await ReportMemoryAsync(scratch.Target, scheme, cancel);
            return 0;
        });
        return command;
    }

    /// <summary>A benchmark's own SQLite store in a temporary directory, deleted with it when disposed: a run leaves gigabytes otherwise.</summary>
    internal sealed class ScratchStore : IDisposable
    {
        private readonly string _directory = Directory.CreateTempSubdirectory("lshc-bench-").FullName;

        public ScratchStore(string file) => Target = $"sqlite:{Path.Combine(_directory, file)}";

        /// <summary>The <c>--store</c> value.</summary>
        public string Target { get; }

        public void Dispose()
        {
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
                // Still open somewhere: the system's temp cleaner takes it.
            }
        }
    }

    private static long Settle()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    /// <summary>Fashion-MNIST, or the planted set with each vector's group (null for Fashion-MNIST).</summary>
    private static (List<float[]> Vectors, int[]? Groups) Dataset(bool synthetic, int limit, int dimension = 384)
    {
        if ((synthetic ? null : IdxReader.TryReadFashionMnist()) is { } fashion)
        {
            return ([.. fashion.Take(limit)], null);
        }

        var (vectors, groups) = PlantedSet.GenerateWithGroups(dimension, limit, seed: 2026);
        return ([.. vectors.Take(limit)], groups[..Math.Min(limit, groups.Length)]);
    }

    /// <summary>
    /// The pairs at or above <paramref name="lowest"/> of the planted set: those within each group, each compared
    /// exactly (a million vectors cannot be compared pair by pair, and unrelated ones are never near).
    /// </summary>
    private static List<(int I, int J, float Cosine)> PlantedPairs(List<float[]> vectors, int[] groups, float lowest)
    {
        var pairs = new List<(int I, int J, float Cosine)>();
        foreach (var members in Enumerable.Range(0, vectors.Count).GroupBy(i => groups[i]).Where(g => g.Count() > 1).Select(g => g.ToArray()))
        {
            for (var a = 0; a < members.Length; a++)
            {
                for (var b = a + 1; b < members.Length; b++)
                {
                    var (i, j) = (Math.Min(members[a], members[b]), Math.Max(members[a], members[b]));
                    var cosine = VectorMath.Cosine(VectorMath.Dot(vectors[i], vectors[j]), VectorMath.SquaredNorm(vectors[i]), VectorMath.SquaredNorm(vectors[j]));
                    if (cosine >= lowest)
                    {
                        pairs.Add((i, j, cosine));
                    }
                }
            }
        }

        return pairs;
    }

    /// <summary>
    /// Pair recall and precision per rung against the exact pairs at the lowest rung (one brute-force pass, or for the
    /// planted set the pairs within its groups), as report lines.
    /// </summary>
    /// <param name="engine">The engine the vectors went into, their ids their indices.</param>
    /// <param name="vectors">The vectors.</param>
    /// <param name="rungs">The rungs, highest first.</param>
    /// <param name="groups">For the planted set, each vector's group: its near pairs are counted within groups.</param>
    internal static async Task<List<string>> RecallReportAsync(DedupEngine engine, List<float[]> vectors, float[] rungs, int[]? groups = null)
    {
        var lines = new List<string>();
        var lowest = groups is null ? ExactNeighbours.Pairs(vectors, rungs[^1]) : PlantedPairs(vectors, groups, rungs[^1]);
        for (var r = 0; r < rungs.Length; r++)
        {
            var rung = rungs[r];
            var exactLabels = PairMetrics.Components(vectors.Count, lowest.Where(p => p.Cosine >= rung).Select(p => (p.I, p.J)));
            var labels = new long[vectors.Count];
            for (var i = 0; i < labels.Length; i++)
            {
                labels[i] = -1 - i;
            }

            var clusters = await engine.ExportClustersAsync(r);
            for (var c = 0; c < clusters.Count; c++)
            {
                foreach (var id in clusters[c])
                {
                    labels[int.Parse(id, CultureInfo.InvariantCulture)] = c;
                }
            }

            var (recall, precision, exactPairs, clusteredPairs) = PairMetrics.Compute(exactLabels, labels);
            lines.Add($"rung {StoreOptions.Format(rung)}: pair recall {recall:F4}, pair precision {precision:F4} ({exactPairs:N0} pairs in exact components, {clusteredPairs:N0} in clusters)");
        }

        return lines;
    }
}
