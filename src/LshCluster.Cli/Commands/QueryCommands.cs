using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using LshCluster.Cli.IO;

namespace LshCluster.Cli.Commands;

/// <summary><c>lshc query</c>, <c>lshc clusters</c>, <c>lshc stats</c> and <c>lshc export</c>: the read side.</summary>
internal static class QueryCommands
{
    public static Command Query()
    {
        var store = Target.Store();
        var server = Target.Server();
        var rung = StoreOptions.Rung();
        var id = new Option<string?>("--id") { Description = "External id of a stored vector: its verdict and cluster" };
        var vectorFile = new Option<FileInfo?>("--vector-file") { Description = "A vector file: near-duplicates of its first vector, nothing stored" };
        var command = new Command("query", "The verdict and cluster of a stored id, or the near-duplicates of a vector") { store, server, id, vectorFile, rung };
        command.SetAction(async (parse, cancel) =>
        {
            await using var engine = await Target.OpenAsync(parse.GetValue(store), parse.GetValue(server));
            var r = engine.RungIndexOf(parse.GetValue(rung));
            if (parse.GetValue(id) is { } externalId)
            {
                var verdict = await engine.GetVerdictAsync(externalId) ?? throw new ArgumentException($"--id: '{externalId}' is not stored", "id");
                var cluster = await engine.GetClusterOfAsync(externalId, r);
                Console.WriteLine(JsonSerializer.Serialize(new { verdict, cluster }, Json.Options));
                return 0;
            }

            var file = parse.GetValue(vectorFile) ?? throw new ArgumentException("give --id or --vector-file", "id");
            var vector = VectorFileReader.Read(file.FullName).FirstOrDefault() ?? throw new ArgumentException($"--vector-file: {file.Name} holds no vector", "vector-file");
            var found = await engine.FindNearDuplicatesAsync(vector.Values, parse.GetValue(rung));
            Console.WriteLine(JsonSerializer.Serialize(new { neighbours = found }, Json.Options));
            return 0;
        });
        return command;
    }

    public static Command Clusters()
    {
        var store = Target.Store();
        var server = Target.Server();
        var rung = StoreOptions.Rung();
        var minSize = new Option<int>("--min-size") { Description = "Smallest cluster to list", DefaultValueFactory = _ => 2 };
        var top = new Option<int>("--top") { Description = "How many clusters, largest first", DefaultValueFactory = _ => 20 };
        var command = new Command("clusters", "The largest clusters at a rung") { store, server, rung, minSize, top };
        command.SetAction(async (parse, cancel) =>
        {
            await using var engine = await Target.OpenAsync(parse.GetValue(store), parse.GetValue(server));
            var r = engine.RungIndexOf(parse.GetValue(rung));
            var clusters = await engine.ListClustersAsync(r, Math.Max(1, parse.GetValue(minSize)), parse.GetValue(top), membersPerCluster: 8);
            Console.WriteLine($"rung {StoreOptions.Format(engine.Rungs[r])}: {clusters.Count} clusters shown");
            foreach (var c in clusters)
            {
                Console.WriteLine($"  cluster {c.ClusterId}  size {c.Size,6}  canonical {c.Canonical}  members {string.Join(' ', c.Members.Select(m => m.ExternalId))}{(c.Size > c.Members.Count ? " …" : string.Empty)}"
                    + string.Create(CultureInfo.InvariantCulture, $"  coherence {c.Coherence:F3}{(c.CoherenceSample < c.Size ? $" (of {c.CoherenceSample})" : string.Empty)}{(c.IsChained ? " chained" : string.Empty)}"));
            }

            return 0;
        });
        return command;
    }

    public static Command Watch()
    {
        var store = Target.Store();
        var server = Target.Server();
        var after = new Option<long>("--after") { Description = "The cursor of the last event handled (0: from the oldest event kept)", DefaultValueFactory = _ => 0 };
        var follow = new Option<bool>("--follow") { Description = "Keep waiting for new events (default: stop at the end of the feed)" };
        var command = new Command("watch", "The change feed: every verdict, merge and deletion after a cursor, one JSON line each, in commit order") { store, server, after, follow };
        command.SetAction(async (parse, cancel) =>
        {
            await using var engine = await Target.OpenAsync(parse.GetValue(store), parse.GetValue(server));
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            var keepGoing = parse.GetValue(follow);
            if (!keepGoing)
            {
                idle.CancelAfter(TimeSpan.FromSeconds(2)); // the end of the feed: nothing new for a moment
            }

            try
            {
                await foreach (var e in engine.WatchAsync(parse.GetValue(after), idle.Token))
                {
                    Console.WriteLine(JsonSerializer.Serialize(e, Json.Options));
                    if (!keepGoing)
                    {
                        idle.CancelAfter(TimeSpan.FromSeconds(1));
                    }
                }
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                // At the end of the feed.
            }

            return 0;
        });
        return command;
    }

    public static Command Stats()
    {
        var store = Target.Store();
        var server = Target.Server();
        var command = new Command("stats", "Vectors, duplicates and clusters per rung") { store, server };
        command.SetAction(async (parse, cancel) =>
        {
            await using var engine = await Target.OpenAsync(parse.GetValue(store), parse.GetValue(server));
            var stats = await engine.GetStatsAsync();
            Console.WriteLine($"vectors {stats.Vectors}  duplicates {stats.Duplicates}  shards {stats.Shards}");
            foreach (var r in stats.Rungs)
            {
                Console.WriteLine($"  rung {StoreOptions.Format(r.Rung)}: {r.Clusters} clusters of size >= 2 holding {r.ClusteredVectors} vectors; largest {r.LargestCluster}");
                if (r.SampledRecall is { } s)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"    sampled recall {s.Estimate:F4} (95% interval {s.Low:F4} … {s.High:F4}; {s.Pairs:N0} exact pairs of {s.Vectors:N0} sampled inserts)"));
                }
            }

            return 0;
        });
        return command;
    }

    public static Command Export()
    {
        var store = Target.Store();
        var server = Target.Server();
        var rung = StoreOptions.Rung();
        var format = new Option<string>("--format") { Description = "clusters (one line of member ids per cluster), jsonl or csv", DefaultValueFactory = _ => "clusters" };
        format.AcceptOnlyFromAmong("clusters", "jsonl", "csv");
        var all = new Option<bool>("--all") { Description = "Also write every vector that is in no cluster, as a cluster of one" };
        var cores = new Option<bool>("--cores")
        {
            Description = "Write each cluster's core (its members within the rung of its canonical member) rather than the whole chained component",
        };
        var command = new Command("export", "Write every cluster of size >= 2 at a rung") { store, server, rung, format, all, cores };
        command.SetAction(async (parse, cancel) =>
        {
            await using var engine = await Target.OpenAsync(parse.GetValue(store), parse.GetValue(server));
            var r = engine.RungIndexOf(parse.GetValue(rung));
            var clusters = await engine.ExportClustersAsync(r, parse.GetValue(all), parse.GetValue(cores));
            var kind = parse.GetValue(format);
            if (kind == "csv")
            {
                Console.WriteLine("cluster,external_id");
            }

            foreach (var (members, n) in clusters.Select((m, n) => (m, n)))
            {
                switch (kind)
                {
                    case "clusters":
                        Console.WriteLine(string.Join(' ', members));
                        break;
                    case "jsonl":
                        Console.WriteLine(JsonSerializer.Serialize(new { cluster = n, canonical = members[0], members }, Json.Options));
                        break;
                    default:
                        foreach (var m in members)
                        {
                            Console.WriteLine($"{n},{Csv(m)}");
                        }

                        break;
                }
            }

            return 0;
        });
        return command;
    }

    private static string Csv(string value) =>
        value.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? $"\"{value.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : value;
}

/// <summary>JSON output settings: snake_case names, as the API will use.</summary>
internal static class Json
{
    public static readonly JsonSerializerOptions Options = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
}
