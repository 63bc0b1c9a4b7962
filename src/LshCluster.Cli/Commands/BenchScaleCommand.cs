using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using LshCluster.Cli.IO;
using LshCluster.Core.Evaluation;
using LshCluster.Core.Kernels;
using LshCluster.Silo.Engine;
using LshCluster.Storage;

namespace LshCluster.Cli.Commands;

/// <summary>
/// <c>lshc bench scale</c> (issue 16): streams a planted synthetic set of any size into a new cluster while a reader
/// asks the cluster questions a dashboard and its users ask, and reports the rate per million, the questions' latencies,
/// memory per vector, the planted pairs found, and how long a restart takes to serve again.
/// </summary>
internal static class BenchScaleCommand
{
    private static readonly float[] Rungs = [0.99f, 0.98f, 0.95f];

    public static Command Create()
    {
        var store = new Option<string?>("--store") { Description = "Empty store to create the cluster in, e.g. postgres:Host=…;Database=… (default: a fresh SQLite file in a temp directory)" };
        var count = new Option<long>("--vectors") { Description = "Vectors to stream", DefaultValueFactory = _ => 10_000_000 };
        var dim = new Option<int>("--dim") { Description = "Dimension", DefaultValueFactory = _ => 256 };
        var step = new Option<long>("--step") { Description = "Report the rate and latencies per this many vectors", DefaultValueFactory = _ => 1_000_000 };
        var sampleEvery = new Option<int>("--sample-every") { Description = "Check the planted pairs of one group in this many", DefaultValueFactory = _ => 100 };
        var recall = new Option<double>("--recall") { Description = "Planned per-pair recall at the lowest rung", DefaultValueFactory = _ => 0.999 };
        var command = new Command("scale", "Streams a planted set into a new cluster with a reader attached: rate per step, query latencies, memory, planted recall, restart")
        {
            store, count, dim, step, sampleEvery, recall,
        };
        command.SetAction(async (parse, cancel) =>
        {
            var (n, d, every) = (parse.GetValue(count), parse.GetValue(dim), Math.Max(1, parse.GetValue(sampleEvery)));
            if (n is < 10_000 or > int.MaxValue)
            {
                throw new ArgumentException($"--vectors: {n:N0} is outside 10,000 … {int.MaxValue:N0}", "vectors");
            }

            if (d is < 2 or > 4096)
            {
                throw new ArgumentException($"--dim: {d} is outside 2 … 4,096", "dim");
            }

            using var scratch = parse.GetValue(store) is null ? new BenchCommand.ScratchStore("scale.db") : null;
            var target = parse.GetValue(store) ?? scratch!.Target;
            var sample = PlantedSet.Stream(d, 2000, Seed).Select(x => x.Vector).ToList();
            var scheme = CreateCommand.Plan(d, Rungs, parse.GetValue(recall), 1024, 1, sample, storedVectors: n);
            await StoreOptions.CreateClusterAsync(target, scheme, cancel);
            Console.WriteLine($"scheme: {scheme}");

            var sampled = new Dictionary<long, List<(string Id, float[] Vector)>>();
            await using (var engine = await DedupEngine.OpenAsync(DedupStores.Open(target), cancellationToken: cancel))
            {
                Console.WriteLine($"store: {engine.StoreDescription}");
                await StreamAsync(engine, n, d, parse.GetValue(step), every, sampled, cancel);
            }

            await RestartAsync(target, n, sampled, cancel);
            return 0;
        });
        return command;
    }

    private const ulong Seed = 2026;

    private static async Task StreamAsync(DedupEngine engine, long n, int d, long step, int every, Dictionary<long, List<(string Id, float[] Vector)>> sampled, CancellationToken cancel)
    {
        // Records named by position; the planted groups of one in `every` originals kept for the recall check.
        IEnumerable<VectorRecord> Records()
        {
            var position = 0L;
            foreach (var (vector, group) in PlantedSet.Stream(d, n, Seed))
            {
                var id = position++.ToString(CultureInfo.InvariantCulture);
                if (group % every == 0)
                {
                    lock (sampled)
                    {
                        (sampled.TryGetValue(group, out var members) ? members : sampled[group] = []).Add((id, vector));
                    }
                }

                yield return new VectorRecord(id, vector);
            }
        }

        var acknowledged = 0L;
        var marks = new List<TimeSpan>();
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();
        var reader = ReadWhileIngestingAsync(engine, () => Interlocked.Read(ref acknowledged), step, stop.Token);
        var (total, duplicates, refused, elapsed) = await Progress.RunAsync("streaming", n, advanced => IngestCommand.RunAsync(engine, Records(), 5000, cancel,
            advanced: k =>
            {
                advanced(k);
                if (Interlocked.Add(ref acknowledged, k) / step > marks.Count)
                {
                    marks.Add(clock.Elapsed);
                }
            }));
        await stop.CancelAsync();
        var latencies = await reader;

        Console.WriteLine($"ingest: {total - refused:N0} vectors durable in {elapsed.TotalSeconds:F1} s = {(total - refused) / elapsed.TotalSeconds:N0} vectors/s; {duplicates:N0} duplicates; {engine.Commits:N0} commits");
        Console.WriteLine($"candidates per insert: {(double)engine.BucketCandidates / total:F1} past the sketch filter, {(double)engine.CheckedCandidates / total:F1} exact checks");
        Console.WriteLine($"resident: {Environment.WorkingSet / (double)total:N0} bytes per vector = {Environment.WorkingSet / (double)total / (4.0 * d):F2} × 4d (the whole process at the end of the stream)");
        Console.WriteLine("| vectors | vectors/s | GetCluster p50 / p99 | ListClusters(top 10) p50 / p99 | GetStats p50 / p99 | questions |");
        Console.WriteLine("|---|---:|---|---|---|---:|");
        for (var m = 0; m < marks.Count; m++)
        {
            var rate = step / (marks[m] - (m == 0 ? TimeSpan.Zero : marks[m - 1])).TotalSeconds;
            var window = latencies.Where(l => l.Step == m).ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {(m + 1) * step:N0} | {rate:N0} | {Percentiles(window, Question.Cluster)} | {Percentiles(window, Question.Largest)} | {Percentiles(window, Question.Stats)} | {window.Count:N0} |"));
        }

        // The same questions once the stream has ended: what they cost on their own.
        var idle = new List<(long Step, Question Kind, double Milliseconds)>();
        var rng = new Random(11);
        for (var q = 0; q < 200; q++)
        {
            var id = rng.NextInt64(total).ToString(CultureInfo.InvariantCulture);
            idle.Add((0, Question.Cluster, await TimeAsync(() => engine.GetClusterOfAsync(id, 0, take: 10))));
            idle.Add((0, Question.Largest, await TimeAsync(() => engine.ListClustersAsync(0, take: 10))));
            idle.Add((0, Question.Stats, await TimeAsync(engine.GetStatsAsync)));
        }

        Console.WriteLine($"| after the stream, nothing else running | – | {Percentiles(idle, Question.Cluster)} | {Percentiles(idle, Question.Largest)} | {Percentiles(idle, Question.Stats)} | {idle.Count:N0} |");

        if (marks.Count >= 2)
        {
            var first = step / marks[0].TotalSeconds;
            var last = step / (marks[^1] - marks[^2]).TotalSeconds;
            Console.WriteLine($"growth: the last {step:N0} at {last / first:F2}× the rate of the first");
        }

        var stats = await engine.GetStatsAsync();
        Console.WriteLine($"clusters: {string.Join("; ", stats.Rungs.Select(r => string.Create(CultureInfo.InvariantCulture, $"rung {r.Rung}: {r.Clusters:N0} of {r.ClusteredVectors:N0} vectors, the largest {r.LargestCluster:N0}")))}");
    }

    private enum Question
    {
        Cluster,
        Largest,
        Stats,
    }

    /// <summary>
    /// What a user and a dashboard ask while the stream runs, one question after another with a short pause: the cluster
    /// of a random stored vector (a page of ten), the ten largest clusters, and the stats.
    /// </summary>
    private static async Task<List<(long Step, Question Kind, double Milliseconds)>> ReadWhileIngestingAsync(DedupEngine engine, Func<long> acknowledged, long step, CancellationToken stop)
    {
        var latencies = new List<(long, Question, double)>();
        var rng = new Random(7);
        while (!stop.IsCancellationRequested)
        {
            var stored = acknowledged();
            if (stored == 0)
            {
                await Task.Delay(50, CancellationToken.None);
                continue;
            }

            var at = stored / step;
            var id = rng.NextInt64(stored).ToString(CultureInfo.InvariantCulture);
            latencies.Add((at, Question.Cluster, await TimeAsync(() => engine.GetClusterOfAsync(id, 0, take: 10))));
            latencies.Add((at, Question.Largest, await TimeAsync(() => engine.ListClustersAsync(0, take: 10))));
            latencies.Add((at, Question.Stats, await TimeAsync(engine.GetStatsAsync)));
            await Task.Delay(20, CancellationToken.None);
        }

        return latencies;
    }

    private static async Task<double> TimeAsync<T>(Func<Task<T>> question)
    {
        var clock = Stopwatch.StartNew();
        await question();
        return clock.Elapsed.TotalMilliseconds;
    }

    private static string Percentiles(List<(long Step, Question Kind, double Milliseconds)> window, Question kind)
    {
        var sorted = window.Where(l => l.Kind == kind).Select(l => l.Milliseconds).Order().ToList();
        return sorted.Count == 0 ? "–" : string.Create(CultureInfo.InvariantCulture, $"{sorted[sorted.Count / 2]:F2} / {sorted[(int)(sorted.Count * 0.99)]:F2} ms");
    }

    /// <summary>Opens the store again as a restarted process would, times it until it answers, and checks the planted pairs there.</summary>
    private static async Task RestartAsync(string target, long n, Dictionary<long, List<(string Id, float[] Vector)>> sampled, CancellationToken cancel)
    {
        // The first engine's memory back to the system first: a restarted process starts without it.
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var clock = Stopwatch.StartNew();
        await using var engine = await DedupEngine.OpenAsync(DedupStores.Open(target), cancellationToken: cancel);
        var stats = await engine.GetStatsAsync();
        var served = clock.Elapsed;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"restart: {stats.Vectors:N0} vectors loaded and served again in {served.TotalSeconds:F1} s; then {Environment.WorkingSet / (double)n:N0} bytes resident and {GC.GetTotalMemory(false) / (double)n:N0} of managed heap per vector"));

        // Planted recall: each pair of a sampled group at or above a rung, in one cluster there?
        for (var r = 0; r < Rungs.Length; r++)
        {
            var (pairs, found) = (0, 0);
            foreach (var members in sampled.Values.Where(m => m.Count > 1))
            {
                var clusters = await Task.WhenAll(members.Select(m => engine.GetClusterOfAsync(m.Id, r, take: 0)));
                for (var a = 0; a < members.Count; a++)
                {
                    for (var b = a + 1; b < members.Count; b++)
                    {
                        var (x, y) = (members[a].Vector, members[b].Vector);
                        if (VectorMath.Cosine(VectorMath.Dot(x, y), VectorMath.SquaredNorm(x), VectorMath.SquaredNorm(y)) >= Rungs[r])
                        {
                            pairs++;
                            found += clusters[a]?.ClusterId == clusters[b]?.ClusterId && clusters[a] is not null ? 1 : 0;
                        }
                    }
                }
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rung {Rungs[r]}: planted-pair recall {(double)found / Math.Max(1, pairs):F4} ({found:N0} of {pairs:N0} pairs in a sample of {sampled.Count:N0} groups)"));
        }
    }
}
