using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using LshCluster.Client;
using LshCluster.Protocol.V1;
using LshCluster.Silo.Engine;
using LshCluster.Silo.Tests;
using LshCluster.Storage.Sqlite;
using LshCluster.Storage.Tests;
using Xunit.Abstractions;
using Verdict = LshCluster.Protocol.V1.Verdict;

namespace LshCluster.IntegrationTests;

/// <summary>
/// The cluster as users run it: <c>lshc silo</c> processes on loopback over one real PostgreSQL, fed by the .NET
/// client, compared with the embedded engine on the same input, through scaling and faults.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ClusterTests(PostgresServer server, ITestOutputHelper output)
{
    [Fact]
    public async Task Three_silos_give_the_verdicts_and_clusters_of_the_embedded_engine()
    {
        var scheme = ClusterHarness.TestScheme();
        await using var cluster = await ClusterHarness.CreateAsync(server, scheme);
        for (var i = 0; i < 3; i++)
        {
            await cluster.StartSiloAsync("--recall-sample", "1"); // every insert a live recall sample (within 5% of a core)
        }

        await cluster.WaitForOwnersAsync(3, TimeSpan.FromSeconds(30));
        var rounds = ClusterHarness.Rounds(originals: 1500, rounds: 5, copiesPerRound: 300, seed: 11);
        await using var client = await cluster.ClientAsync();
        var blank = new float[scheme.Dimension];
        Assert.Contains("ids[1]", (await Assert.ThrowsAsync<ArgumentException>(() => client.InsertAsync(["a", null!], [blank, blank]))).Message);
        Assert.Contains("values", (await Assert.ThrowsAsync<ArgumentException>(() => client.InsertAsync(["a"], [blank, blank]))).Message);
        var clusterVerdicts = await StreamAsync(client, rounds, chunk: 100);

        var embedded = await EmbeddedAsync(scheme, rounds);
        var live = await client.GetStatsAsync();
        Assert.Equal(embedded.Stats.Vectors, live.Vectors);
        Assert.Equal(embedded.Stats.Duplicates, live.Duplicates);
        for (var r = 0; r < scheme.Rungs.Count; r++)
        {
            Assert.Equal(embedded.Stats.Rungs[r].Clusters, live.Rungs[r].Clusters);
            Assert.Equal(embedded.Stats.Rungs[r].LargestCluster, live.Rungs[r].LargestCluster);
        }

        AssertSameVerdicts(embedded.Verdicts, clusterVerdicts);

        // Live recall, measured by every silo over the whole cluster (each sample compared with the vectors of all three),
        // and a chained cluster's core read across silos: every member listed within the rung of the canonical one.
        var sampled = live;
        for (var wait = Stopwatch.StartNew(); sampled.Rungs.Any(r => r.SampledVectors < 50) && wait.Elapsed < TimeSpan.FromSeconds(60); await Task.Delay(500))
        {
            sampled = await client.GetStatsAsync();
        }

        Assert.All(sampled.Rungs, r =>
        {
            Assert.True(r.SampledVectors >= 50, $"rung {r.Rung}: {r.SampledVectors} samples checked");
            Assert.InRange(r.SampledRecall, r.SampledRecallLow, r.SampledRecallHigh);
            Assert.True(r.SampledRecallHigh >= 0.99, $"rung {r.Rung}: sampled recall {r.SampledRecall} ({r.SampledRecallLow} … {r.SampledRecallHigh})");
        });
        var lowest = scheme.Rungs.Count - 1;
        var largest = (await client.ListClustersAsync(new ListClustersRequest { Rung = scheme.Rungs[lowest], Take = 1 })).Clusters.Single();
        var core = await client.GetClusterAsync(new GetClusterRequest { ClusterId = largest.ClusterId, Rung = scheme.Rungs[lowest], Take = 10_000, Core = true });
        Assert.Equal(core.CoreSize, core.Members.Count);
        Assert.Equal(largest.Size, core.CoherenceSample);
        Assert.All(core.Members, m => Assert.True(m.CosineToCanonical >= scheme.Rungs[lowest], $"{m.Id} at {m.CosineToCanonical} in the core"));

        // The REST API of every silo tells the same story as the gRPC API and the membership table.
        using var http = new HttpClient();
        var addresses = cluster.Silos.Select(s => s.Address).ToHashSet();
        foreach (var silo in cluster.Silos)
        {
            var stats = JsonNode.Parse(await http.GetStringAsync($"{silo.HttpAddress}/v1/stats"))!;
            Assert.Equal(live.Vectors, (int)stats["vectors"]!);
            Assert.Equal(live.Duplicates, (int)stats["duplicates"]!);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"{silo.HttpAddress}/readyz")).StatusCode);
            var silos = JsonNode.Parse(await http.GetStringAsync($"{silo.HttpAddress}/v1/silos"))!.AsArray();
            Assert.Equal(addresses, silos.Where(s => (string?)s!["status"] == "active").Select(s => (string)s!["address"]!).ToHashSet());
            Assert.Equal(scheme.ShardCount, silos.Sum(s => (int)s!["shards"]!));
            Assert.Equal(silo.Address, (string?)silos.Single(s => (bool)s!["is_self"]!)!["address"]);
            var shards = JsonNode.Parse(await http.GetStringAsync($"{silo.HttpAddress}/v1/shards"))!.AsArray();
            Assert.Equal(scheme.ShardCount, shards.Count);
            Assert.All(shards, s => Assert.Contains(((string)s!["owner"]!).Split('#')[0], addresses));
        }

        // One silo's dashboard, in a real browser: the cluster's counts, all three silos, every shard coloured by its owner.
        HeadlessChromium.RequireInstalled();
        var dom = await HeadlessChromium.RunAsync("--dump-dom", $"{cluster.Silos[0].HttpAddress}/");
        Assert.Equal(live.Vectors.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), HeadlessChromium.ElementText(dom, "vectors"));
        Assert.Equal(3, System.Text.RegularExpressions.Regex.Matches(dom, "<td>active</td>").Count);
        Assert.Equal(scheme.ShardCount, System.Text.RegularExpressions.Regex.Matches(dom, "title=\"shard \\d+: http").Count);

        var stored = await cluster.ClustersFromStoreAsync();
        AssertSameClusters(embedded.Clusters, stored);
        output.WriteLine($"{live.Vectors} vectors, {live.Duplicates} duplicates; clusters per rung {string.Join(", ", live.Rungs.Select(r => $"{r.Rung}: {r.Clusters}"))} — equal to the embedded engine");
    }

    [Fact]
    public async Task Scaling_out_and_in_while_streaming_loses_and_duplicates_nothing()
    {
        var scheme = ClusterHarness.TestScheme();
        await using var cluster = await ClusterHarness.CreateAsync(server, scheme);
        for (var i = 0; i < 3; i++)
        {
            await cluster.StartSiloAsync();
        }

        await cluster.WaitForOwnersAsync(3, TimeSpan.FromSeconds(30));
        var rounds = ClusterHarness.Rounds(originals: 1200, rounds: 8, copiesPerRound: 250, seed: 12);
        await using var client = await cluster.ClientAsync();

        // The stream holds before its middle round until the cluster has scaled out, and before its last until it has
        // scaled in, so that however slow the machine, each move starts while vectors stream and some come after both.
        var scaledOut = new TaskCompletionSource();
        var scaledIn = new TaskCompletionSource();
        var producer = StreamAsync(client, rounds, chunk: 50, pause: TimeSpan.FromMilliseconds(100),
            beforeRound: r => r == rounds.Count / 2 ? scaledOut.Task : r == rounds.Count - 1 ? scaledIn.Task : Task.CompletedTask);

        // Out: a fourth silo joins mid-stream and gets its even share.
        var fourth = await cluster.StartSiloAsync();
        await cluster.WaitForBalanceAsync(4, TimeSpan.FromSeconds(60));
        scaledOut.SetResult();

        // In: it drains (SIGTERM) while the stream goes on, and exits 0 once its shards are handed over.
        fourth.Signal("TERM");
        Assert.Equal(0, await fourth.WaitForExitAsync(TimeSpan.FromSeconds(90)));
        await cluster.WaitForBalanceAsync(3, TimeSpan.FromSeconds(60));
        scaledIn.SetResult();

        var verdicts = await producer;
        output.WriteLine($"client retries during the moves: {client.Retries}");
        await AssertStoredExactlyOnceAsync(cluster, verdicts);

        // What the silos hold in memory after the moves (loaded while others committed) agrees with what they said.
        var live = await client.GetStatsAsync();
        Assert.Equal(verdicts.Count, live.Vectors);
        Assert.Equal(verdicts.Count(v => v.Value.Kind == Protocol.V1.VerdictKind.Duplicate), live.Duplicates);
        var embedded = await EmbeddedAsync(scheme, rounds);
        AssertSameVerdicts(embedded.Verdicts, verdicts);
        AssertSameClusterCounts(embedded.Stats, live);
        AssertSameClusters(embedded.Clusters, await cluster.ClustersFromStoreAsync());
    }

    [Fact]
    public async Task Killed_silos_lose_nothing_acknowledged_and_their_shards_are_served_again()
    {
        var scheme = ClusterHarness.TestScheme();
        await using var cluster = await ClusterHarness.CreateAsync(server, scheme);
        for (var i = 0; i < 4; i++)
        {
            await cluster.StartSiloAsync();
        }

        await cluster.WaitForOwnersAsync(4, TimeSpan.FromSeconds(30));
        var rounds = ClusterHarness.Rounds(originals: 1200, rounds: 6, copiesPerRound: 250, seed: 13);
        await using var client = await cluster.ClientAsync(TimeSpan.FromSeconds(120));
        var producer = StreamAsync(client, rounds, chunk: 50, pause: TimeSpan.FromMilliseconds(250), cluster: cluster);

        await Task.Delay(1500);
        var clock = Stopwatch.StartNew();
        cluster.Silos[0].Signal("KILL");
        await cluster.WaitForOwnersAsync(3, TimeSpan.FromSeconds(60));
        var takeover = clock.Elapsed;
        output.WriteLine($"one silo killed: its shards were served again {takeover.TotalSeconds:F1} s after the kill (declared dead after two missed one-second probes; target ≤ 15 s)");
        Assert.True(takeover < TimeSpan.FromSeconds(15), $"takeover took {takeover.TotalSeconds:F1} s");

        await Task.Delay(1000);
        clock.Restart();
        cluster.Silos[1].Signal("KILL");
        cluster.Silos[2].Signal("KILL");
        await cluster.WaitForOwnersAsync(1, TimeSpan.FromSeconds(60));
        output.WriteLine($"two more killed: the last silo served every shard {clock.Elapsed.TotalSeconds:F1} s after the kills");

        var verdicts = await producer;
        output.WriteLine($"client retries: {client.Retries}; the stream ended {clock.Elapsed.TotalSeconds:F1} s after the kills");
        Assert.True(client.Retries > 0, "the kills should have made the client resend something");
        await AssertStoredExactlyOnceAsync(cluster, verdicts);
        var embedded = await EmbeddedAsync(scheme, rounds);
        AssertSameVerdicts(embedded.Verdicts, verdicts);

        // The cluster state the last silo keeps (some shards held through the kills, the others loaded after) counts
        // what a fault-free run counts.
        AssertSameClusterCounts(embedded.Stats, await client.GetStatsAsync());
        AssertSameClusters(embedded.Clusters, await cluster.ClustersFromStoreAsync());
    }

    [Fact]
    public async Task A_feed_consumer_whose_silo_is_killed_mid_stream_sees_every_event_once_by_cursor()
    {
        var scheme = ClusterHarness.TestScheme();
        await using var cluster = await ClusterHarness.CreateAsync(server, scheme);
        for (var i = 0; i < 3; i++)
        {
            await cluster.StartSiloAsync();
        }

        await cluster.WaitForOwnersAsync(3, TimeSpan.FromSeconds(30));
        var rounds = ClusterHarness.Rounds(originals: 600, rounds: 4, copiesPerRound: 150, seed: 17);
        await using var producer = await cluster.ClientAsync(TimeSpan.FromSeconds(120));
        await using var consumer = await cluster.ClientAsync(TimeSpan.FromSeconds(120));

        // The consumer's stream starts on the silo that owns shard 0 (the first in its shard map): that one is killed.
        using var http = new HttpClient();
        var owner = ((string)JsonNode.Parse(await http.GetStringAsync($"{cluster.Silos[0].HttpAddress}/v1/shards"))!.AsArray()[0]!["owner"]!).Split('#')[0];
        var victim = cluster.Silos.Single(s => s.Address == owner);
        var seen = new List<WatchEvent>();
        using var stop = new CancellationTokenSource();
        var watching = Task.Run(async () =>
        {
            try
            {
                await foreach (var e in consumer.WatchAsync(0, stop.Token))
                {
                    lock (seen)
                    {
                        seen.Add(e);
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // Done.
            }
        });

        var streaming = StreamAsync(producer, rounds, chunk: 50, pause: TimeSpan.FromMilliseconds(100), cluster: cluster);
        await Task.Delay(1500);
        victim.Signal("KILL");
        await cluster.WaitForOwnersAsync(2, TimeSpan.FromSeconds(60));
        var verdicts = await streaming;

        int Verdicts()
        {
            lock (seen)
            {
                return seen.Count(e => e.EventCase == WatchEvent.EventOneofCase.Verdict);
            }
        }

        for (var wait = Stopwatch.StartNew(); Verdicts() < verdicts.Count && wait.Elapsed < TimeSpan.FromSeconds(60); await Task.Delay(200))
        {
        }

        await Task.Delay(500); // anything after the last verdict (there should be nothing) would show now
        await stop.CancelAsync();
        await watching;
        output.WriteLine($"{seen.Count} events ({Verdicts()} verdicts for {verdicts.Count} acknowledged vectors); the consumer reconnected {consumer.Retries} times");

        // Every acknowledged vector once, in cursor order, nothing twice; a reader from 0 now reads the same feed.
        Assert.Equal(seen.Select(e => e.Cursor).Order(), seen.Select(e => e.Cursor));
        Assert.Equal(seen.Count, seen.Select(e => e.Cursor).Distinct().Count());
        var stored = seen.Where(e => e.EventCase == WatchEvent.EventOneofCase.Verdict).Select(e => e.Verdict.Id).ToList();
        Assert.Equal(stored.Count, stored.Distinct().Count());
        Assert.Equal(verdicts.Keys.Order(StringComparer.Ordinal), stored.Order(StringComparer.Ordinal));
        Assert.All(seen.Where(e => e.EventCase == WatchEvent.EventOneofCase.Verdict), e =>
            Assert.Equal(verdicts[e.Verdict.Id].Kind, e.Verdict.Kind));
        Assert.Contains(seen, e => e.EventCase == WatchEvent.EventOneofCase.Merge);

        await using var reader = await cluster.ClientAsync();
        var again = new List<ulong>();
        using (var enough = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            await foreach (var e in reader.WatchAsync(0, enough.Token))
            {
                again.Add(e.Cursor);
                if (again.Count == seen.Count)
                {
                    break;
                }
            }
        }

        Assert.Equal(seen.Select(e => e.Cursor), again);
    }

    [Fact]
    public async Task Frozen_silo_is_fenced_out_and_stops_serving()
    {
        var scheme = ClusterHarness.TestScheme();
        await using var cluster = await ClusterHarness.CreateAsync(server, scheme);
        var frozen = await cluster.StartSiloAsync();
        var other = await cluster.StartSiloAsync();
        await cluster.WaitForOwnersAsync(2, TimeSpan.FromSeconds(30));

        frozen.Signal("STOP");
        await cluster.WaitForOwnersAsync(1, TimeSpan.FromSeconds(30)); // the other silo took every shard
        frozen.Signal("CONT");

        // Whatever the resumed silo still tries to write carries epochs that moved: it is refused, and the silo
        // stops serving and exits (a supervisor would start a new incarnation).
        using var direct = Grpc.Net.Client.GrpcChannel.ForAddress(frozen.Address);
        var batch = new InsertRequest();
        batch.Vectors.AddRange(ClusterHarness.Rounds(50, 1, 0, seed: 14)[0]);
        try
        {
            var response = await new Ingest.IngestClient(direct).InsertAsync(batch, deadline: DateTime.UtcNow.AddSeconds(10));
            Assert.All(response.Results, r => Assert.NotNull(r.Error));
        }
        catch (Grpc.Core.RpcException e)
        {
            output.WriteLine($"the resumed silo answered {e.StatusCode}: {e.Status.Detail}");
        }

        Assert.Equal(4, await frozen.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        output.WriteLine(frozen.Output.Split('\n').LastOrDefault(l => l.Contains("stops serving", StringComparison.Ordinal)));
        Assert.Empty((await cluster.StoredIdsAsync()).Intersect(batch.Vectors.Select(v => v.Id)));
        Assert.False(other.HasExited);
    }

    [Fact]
    public async Task PostgreSQL_restart_mid_stream_loses_nothing_acknowledged()
    {
        var scheme = ClusterHarness.TestScheme();
        await using var cluster = await ClusterHarness.CreateAsync(server, scheme);
        await cluster.StartSiloAsync();
        await cluster.StartSiloAsync();
        await cluster.WaitForOwnersAsync(2, TimeSpan.FromSeconds(30));
        var rounds = ClusterHarness.Rounds(originals: 1000, rounds: 6, copiesPerRound: 250, seed: 15);
        await using var client = await cluster.ClientAsync(TimeSpan.FromSeconds(120));
        var producer = StreamAsync(client, rounds, chunk: 50, pause: TimeSpan.FromMilliseconds(200));

        await Task.Delay(1500);
        Assert.False(producer.IsCompleted, "the stream should still run when the database restarts");
        await server.RestartAsync(TimeSpan.FromSeconds(2));
        Dictionary<string, Verdict> verdicts;
        try
        {
            verdicts = await producer;
        }
        catch (Grpc.Core.RpcException e)
        {
            throw new Xunit.Sdk.XunitException($"{e.Message}\n{cluster.Logs()}");
        }

        output.WriteLine($"client retries across the database restart: {client.Retries}");
        Assert.All(cluster.Silos, s => Assert.False(s.HasExited, s.Output));
        await AssertStoredExactlyOnceAsync(cluster, verdicts);
        var embedded = await EmbeddedAsync(scheme, rounds);
        AssertSameClusters(embedded.Clusters, await cluster.ClustersFromStoreAsync());
    }

    [Fact]
    public async Task A_cluster_created_without_a_sample_learns_its_hashing_once_across_silos_and_answers_as_exactly()
    {
        var rungs = new[] { 0.99f, 0.98f, 0.95f };
        var learning = Core.Hashing.LshScheme.ForLearning(ClusterHarness.Dimension, rungs, new Core.Hashing.LearningPlan(600, 0.999, 1, 10_000), shardCount: 256);
        await using var cluster = await ClusterHarness.CreateAsync(server, learning);
        await cluster.StartSiloAsync();
        await cluster.StartSiloAsync();
        await cluster.WaitForOwnersAsync(2, TimeSpan.FromSeconds(30));
        await using var client = await cluster.ClientAsync();
        Assert.True(client.Scheme.IsLearning);

        // Round 0 (1,000 originals) is answered exactly and crosses N; the copies come after pauses longer than the
        // client's recheck of a learning scheme, so that it hashes them with the fixed one once the silos have it.
        var rounds = ClusterHarness.Rounds(originals: 1000, rounds: 4, copiesPerRound: 300, seed: 13);
        var verdicts = await StreamAsync(client, rounds, chunk: 100, cluster: cluster, beforeRound: r => Task.Delay(r == 0 ? 0 : 1500));

        var stored = await new Storage.Postgres.PostgresDedupStore(cluster.ConnectionString).ReadSchemeAsync();
        Assert.False(stored!.IsLearning, stored.ToString());
        Assert.Equal((learning.Dimension, learning.ShardCount, learning.Seed), (stored.Dimension, stored.ShardCount, stored.Seed));
        Assert.Equal(stored.Fingerprint, client.Scheme.Fingerprint);
        // The coordinator that fixed the scheme logs it after reloading every shard, which can end after the stream
        // does; the silos' console logs are written by a background queue too.
        int Learned() => System.Text.RegularExpressions.Regex.Matches(cluster.Logs(), "learned the hashing").Count;
        for (var wait = Stopwatch.StartNew(); Learned() == 0 && wait.Elapsed < TimeSpan.FromSeconds(30); await Task.Delay(200))
        {
        }

        await Task.Delay(500);
        Assert.True(Learned() == 1, $"'learned the hashing' logged {Learned()} times, once expected:\n{cluster.Logs()}");

        // Every verdict against a brute force over the earlier rounds (a round holds no near-duplicates of its own).
        var earlier = new List<Vector>();
        int wrongKind = 0, wrongMatch = 0, duplicates = 0;
        foreach (var round in rounds)
        {
            foreach (var v in round)
            {
                var best = earlier.Select(e => (e.Id, Cosine: Core.Kernels.VectorMath.Cosine(v.Values.ToArray(), e.Values.ToArray()))).DefaultIfEmpty((Id: string.Empty, Cosine: 0f)).MaxBy(e => e.Cosine);
                var isDuplicate = best.Cosine >= rungs[^1];
                duplicates += isDuplicate ? 1 : 0;
                wrongKind += (verdicts[v.Id].Kind == Protocol.V1.VerdictKind.Duplicate) != isDuplicate ? 1 : 0;
                wrongMatch += isDuplicate && verdicts[v.Id].BestMatchId != best.Id ? 1 : 0;
            }

            earlier.AddRange(round);
        }

        output.WriteLine($"learned {stored}; {duplicates} duplicates, {wrongKind} verdicts and {wrongMatch} best matches unlike the brute force's");
        Assert.True(duplicates >= 800, $"{duplicates} duplicates: the test data should hold more");
        Assert.True(wrongKind <= duplicates / 200 && wrongMatch <= duplicates / 200, $"{wrongKind} verdicts and {wrongMatch} best matches of {duplicates} duplicates unlike the brute force's");
        await AssertStoredExactlyOnceAsync(cluster, verdicts);
    }

    /// <summary>
    /// Sends each round in chunks, rounds one after another: all chunks of a round at once, or, with a
    /// <paramref name="pause"/>, one chunk at a time with that pause between them (a steady stream that lasts while
    /// the test moves shards or kills processes).
    /// </summary>
    private static async Task<Dictionary<string, Verdict>> StreamAsync(LshClusterClient client, List<List<Vector>> rounds, int chunk, TimeSpan? pause = null,
        ClusterHarness? cluster = null, Func<int, Task>? beforeRound = null)
    {
        var verdicts = new Dictionary<string, Verdict>();
        void Take(IEnumerable<(Vector Vector, Protocol.V1.InsertResult Result)> answered)
        {
            foreach (var (vector, result) in answered)
            {
                Assert.True(result.Verdict is not null, $"{vector.Id}: {result.Error}\n{cluster?.Logs()}");
                verdicts[vector.Id] = result.Verdict;
            }
        }

        foreach (var (r, round) in rounds.Index())
        {
            if (beforeRound is not null)
            {
                await beforeRound(r);
            }

            if (pause is { } p)
            {
                foreach (var part in round.Chunk(chunk))
                {
                    await Task.Delay(p);
                    Take(part.Zip(await client.InsertAsync(part)));
                }

                continue;
            }

            // Both ways of sending a batch: protobuf vectors, and ids with arrays (sent without a copy).
            var sends = round.Chunk(chunk).Select(async (part, k) => part.Zip(await (k % 2 == 0
                ? client.InsertAsync(part)
                : client.InsertAsync([.. part.Select(v => v.Id)], [.. part.Select(v => v.Values.ToArray())])))).ToList();
            Take((await Task.WhenAll(sends)).SelectMany(x => x));
        }

        return verdicts;
    }

    private static async Task<(Dictionary<string, Verdict> Verdicts, EngineStats Stats, List<List<string>>[] Clusters)> EmbeddedAsync(Core.Hashing.LshScheme scheme, List<List<Vector>> rounds)
    {
        var path = Path.Combine(Path.GetTempPath(), $"lshc-embedded-{Guid.NewGuid():N}.db");
        try
        {
            await DedupEngine.CreateAsync(new SqliteDedupStore(path), scheme);
            await using var engine = await DedupEngine.OpenAsync(new SqliteDedupStore(path));
            var verdicts = new Dictionary<string, Verdict>();
            foreach (var round in rounds)
            {
                var results = await engine.InsertAsync([.. round.Select(v => new VectorInput(v.Id, [.. v.Values]))]);
                foreach (var (vector, result) in round.Zip(results))
                {
                    var v = result.Verdict!;
                    verdicts[vector.Id] = new Verdict
                    {
                        Id = v.ExternalId,
                        Kind = v.Kind == Silo.Engine.VerdictKind.Duplicate ? Protocol.V1.VerdictKind.Duplicate : Protocol.V1.VerdictKind.New,
                        BestMatchId = v.BestMatch ?? string.Empty,
                        BestCosine = v.BestCosine ?? 0,
                    };
                }
            }

            return (verdicts, await engine.GetStatsAsync(), await ClusterHarness.ClustersAsync(engine));
        }
        finally
        {
            foreach (var file in Directory.GetFiles(Path.GetTempPath(), Path.GetFileName(path) + "*"))
            {
                File.Delete(file);
            }
        }
    }

    private static void AssertSameVerdicts(Dictionary<string, Verdict> expected, Dictionary<string, Verdict> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        var kinds = expected.Count(e => actual[e.Key].Kind != e.Value.Kind);
        var best = expected.Count(e => actual[e.Key].BestMatchId != e.Value.BestMatchId);
        Assert.True(kinds == 0 && best == 0, $"{kinds} verdict kinds and {best} best matches differ from the embedded engine's");
        Assert.Equal(expected.Count(e => e.Value.Kind == Protocol.V1.VerdictKind.Duplicate), actual.Count(a => a.Value.Kind == Protocol.V1.VerdictKind.Duplicate));
    }

    private static void AssertSameClusterCounts(EngineStats expected, Protocol.V1.Stats actual)
    {
        for (var r = 0; r < expected.Rungs.Count; r++)
        {
            var (e, a) = (expected.Rungs[r], actual.Rungs[r]);
            Assert.Equal((e.Clusters, e.ClusteredVectors, e.LargestCluster), (a.Clusters, a.ClusteredVectors, a.LargestCluster));
        }
    }

    private static void AssertSameClusters(List<List<string>>[] expected, List<List<string>>[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var r = 0; r < expected.Length; r++)
        {
            Assert.True(expected[r].Count > 0, $"rung {r}: the test data should form clusters");
            Assert.Equal(expected[r].Select(c => string.Join(' ', c)), actual[r].Select(c => string.Join(' ', c)));
        }
    }

    private static async Task AssertStoredExactlyOnceAsync(ClusterHarness cluster, Dictionary<string, Verdict> acknowledged)
    {
        var stored = await cluster.StoredIdsAsync();
        Assert.Equal(stored.Count, stored.Distinct().Count());
        Assert.Empty(acknowledged.Keys.Except(stored));
        Assert.Equal(acknowledged.Count, stored.Count);
    }

}
