using System.CommandLine;
using System.Diagnostics;
using LshCluster.Cli.IO;
using LshCluster.Core.Evaluation;
using LshCluster.Silo.Engine;
using LshCluster.Storage;

namespace LshCluster.Cli.Commands;

/// <summary>
/// <c>lshc demo</c>: the whole job on the embedded default — a fresh cluster in <c>./lshc-data</c>, Fashion-MNIST
/// (or a planted synthetic set) ingested durably, then throughput, duplicates, the largest clusters, and pair
/// recall and precision against an exact brute force over the same vectors.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var directory = new Option<DirectoryInfo>("--data") { Description = "Data directory (recreated)", DefaultValueFactory = _ => new DirectoryInfo("lshc-data") };
        var limit = new Option<int>("--limit") { Description = "Use at most this many vectors", DefaultValueFactory = _ => 30_000 };
        var synthetic = new Option<bool>("--synthetic") { Description = "Use the planted synthetic set even when Fashion-MNIST is installed" };
        var recall = new Option<double>("--recall") { Description = "Planned chance of finding a pair at exactly the lowest rung", DefaultValueFactory = _ => 0.999 };
        var probes = new Option<int>("--max-probes") { Description = "Most probes per table the planner may choose (1: measured fastest in the engine today)", DefaultValueFactory = _ => 1 };
        var command = new Command("demo", "Ingest Fashion-MNIST (or a planted set) into an embedded cluster and measure it against brute force")
        {
            directory, limit, synthetic, recall, probes,
        };
        command.SetAction(async (parse, cancel) =>
        {
            var data = parse.GetValue(directory)!;
            var fashion = parse.GetValue(synthetic) ? null : IdxReader.TryReadFashionMnist();
            var vectors = fashion ?? PlantedSet.Generate(384, parse.GetValue(limit), seed: 2026);
            vectors = [.. vectors.Take(parse.GetValue(limit))];
            float[] rungs = fashion is null ? [0.99f, 0.98f, 0.95f] : [0.99f, 0.98f];
            Console.WriteLine(fashion is null
                ? $"data: planted synthetic set, {vectors.Count:N0} vectors of d = 384 (install Debian's dataset-fashion-mnist for real images)"
                : $"data: Fashion-MNIST, {vectors.Count:N0} images of 28 x 28 = 784 values");

            if (data.Exists)
            {
                data.Delete(recursive: true);
            }

            data.Create();
            var store = $"sqlite:{Path.Combine(data.FullName, "demo.db")}";
            var clock = Stopwatch.StartNew();
            var scheme = await Progress.SpinAsync("planning k, L and probes from a sample …", () =>
                Task.Run(() => CreateCommand.Plan(vectors[0].Length, rungs, parse.GetValue(recall), 1024, parse.GetValue(probes), [.. vectors.Take(2000)])));
            await StoreOptions.CreateClusterAsync(store, scheme, cancel);
            Console.WriteLine($"cluster: {scheme} (planned in {clock.Elapsed.TotalSeconds:F1} s)");

            await using var engine = await DedupEngine.OpenAsync(DedupStores.Open(store), cancellationToken: cancel);
            var records = vectors.Select((v, i) => new VectorRecord(i.ToString(System.Globalization.CultureInfo.InvariantCulture), v));
            var (total, duplicates, refused, elapsed) = await Progress.RunAsync("ingesting", vectors.Count, advanced => IngestCommand.RunAsync(engine, records, 5000, cancel, advanced: advanced));
            Console.WriteLine($"ingest: {total - refused:N0} vectors acknowledged and durable in {elapsed.TotalSeconds:F1} s = {(total - refused) / elapsed.TotalSeconds:N0} vectors/s; {duplicates:N0} duplicates; {refused:N0} refused");

            for (var r = 0; r < rungs.Length; r++)
            {
                var top = await engine.ListClustersAsync(r, 2, 0, 5, membersPerCluster: 6);
                Console.WriteLine($"largest clusters at rung {StoreOptions.Format(rungs[r])}:");
                foreach (var c in top)
                {
                    Console.WriteLine($"  size {c.Size,5}  canonical {c.Canonical,6}  members {string.Join(' ', c.Members.Select(m => m.ExternalId))}{(c.Size > c.Members.Count ? " …" : string.Empty)}"
                        + (c.IsChained ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"  chained (a member at {c.Coherence:F2} to the canonical)") : string.Empty));
                }
            }

            clock.Restart();
            Console.WriteLine($"exact brute force over all {vectors.Count:N0} x {vectors.Count:N0} / 2 pairs …");
            foreach (var line in await Progress.SpinAsync("exact brute force …", () => BenchCommand.RecallReportAsync(engine, vectors, rungs)))
            {
                Console.WriteLine(line);
            }
            Console.WriteLine($"brute force took {clock.Elapsed.TotalSeconds:F1} s; the store is {store}");
            return 0;
        });
        return command;
    }
}
