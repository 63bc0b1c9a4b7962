using LshCluster.Core.Hashing;
using LshCluster.Core.Vectors;
using LshCluster.Grains.Shards;
using LshCluster.Silo.Engine;
using LshCluster.Storage;
using static LshCluster.Silo.Tests.EngineTests;

namespace LshCluster.Silo.Tests;

/// <summary>
/// The cluster state the shards keep as they change (issue 16) against the components recomputed from what the store
/// holds: the stored edges, the stored vectors and the deleted ones.
/// </summary>
public sealed class ClusterStateTests : IDisposable
{
    private static readonly float[] Rungs = [0.99f, 0.95f];
    private static readonly LshScheme Scheme = TempStores.Plan(64, Rungs, shards: 16);
    private readonly TempStores _stores = new();

    [Fact]
    public async Task The_clusters_kept_as_they_change_equal_the_components_of_the_stored_edges_after_concurrent_inserts_deletes_and_a_reload()
    {
        // Random walks of small steps (cos 0.995 from one point to the next), inserted in shuffled order by four producers
        // at once: each walk starts as many clusters that later points join, so clusters of many members merge, under
        // concurrent links; meanwhile a fifth task deletes points already stored, canonical members among them.
        var store = _stores.NewSqlite();
        const int Walks = 12;
        const int Steps = 40;
        var points = new List<VectorInput>();
        for (var w = 0; w < Walks; w++)
        {
            var at = Random((ulong)(500 + w));
            var rng = new SplitMix64((ulong)(9000 + w));
            for (var s = 0; s < Steps; s++)
            {
                points.Add(new VectorInput($"w{w}-{s}", at));
                var next = new float[at.Length];
                SyntheticVectors.NearDuplicate(at, 0.995, ref rng, next);
                at = next;
            }
        }

        var order = new System.Random(3);
        var shuffled = points.OrderBy(_ => order.Next()).ToList();
        var toDelete = shuffled.Where((_, i) => i % 7 == 3).Select(p => p.ExternalId).ToList();
        await using (var engine = await TempStores.CreateAsync(store, Scheme))
        {
            var stored = new HashSet<string>();
            var producers = Enumerable.Range(0, 4).Select(p => Task.Run(async () =>
            {
                var mine = shuffled.Where((_, i) => i % 4 == p).ToList();
                for (var at = 0; at < mine.Count; at += 5)
                {
                    var batch = mine.Skip(at).Take(5).ToList();
                    Assert.All(await engine.InsertAsync(batch), r => Assert.NotNull(r.Verdict));
                    lock (stored)
                    {
                        stored.UnionWith(batch.Select(b => b.ExternalId));
                    }
                }
            })).ToList();
            var deleter = Task.Run(async () =>
            {
                foreach (var id in toDelete)
                {
                    while (!(await engine.DeleteAsync([id]))[0].Deleted)
                    {
                        await Task.Delay(2); // not stored yet (or still in flight): its producer gets to it
                    }
                }
            });
            await Task.WhenAll([.. producers, deleter]);

            await AssertStateEqualsStoreAsync(engine, store);
        }

        await using var reopened = await DedupEngine.OpenAsync(DedupStores.Open(store));
        await AssertStateEqualsStoreAsync(reopened, store);
    }

    /// <summary>Every cluster query of <paramref name="engine"/> against the components of what <paramref name="store"/> holds.</summary>
    private static async Task AssertStateEqualsStoreAsync(DedupEngine engine, string store)
    {
        var (names, _, edges) = await ReadStoreAsync(store);
        var merges = 0;
        for (var rung = 0; rung < Rungs.Length; rung++)
        {
            var expected = Components(names, edges.Where(e => e.Cosine >= Rungs[rung]));
            merges += expected.Count;

            // Export: every cluster of two or more, in id order.
            var exported = await engine.ExportClustersAsync(rung);
            Assert.Equal(
                expected.Values.Where(m => m.Count >= 2).Select(m => string.Join(",", m.Select(id => names[id]))).Order(StringComparer.Ordinal),
                exported.Select(c => string.Join(",", c)).Order(StringComparer.Ordinal));

            // The largest ten, with their ids (the root: the oldest id ever in the cluster, deleted or not) and sizes.
            var top = expected.Where(c => c.Value.Count >= 2).OrderByDescending(c => c.Value.Count).ThenBy(c => c.Key).Take(10).ToList();
            var listed = await engine.ListClustersAsync(rung, take: 10);
            Assert.Equal(top.Select(c => (c.Key, c.Value.Count, names[c.Value[0]])), listed.Select(c => (c.ClusterId, c.Size, c.Canonical)));

            // Counters.
            var stats = (await engine.GetStatsAsync()).Rungs[rung];
            Assert.Equal(expected.Values.Count(m => m.Count >= 2), stats.Clusters);
            Assert.Equal(expected.Values.Where(m => m.Count >= 2).Sum(m => m.Count), stats.ClusteredVectors);
            Assert.Equal(expected.Values.Select(m => m.Count).DefaultIfEmpty(0).Max(), stats.LargestCluster);
            var histogram = await engine.GetClusterSizeHistogramAsync(rung);
            Assert.Equal(expected.Values.Count(m => m.Count >= 2), histogram.Sum(b => b.Clusters));
            Assert.All(histogram, b => Assert.Equal(expected.Values.Count(m => m.Count >= b.MinSize && m.Count <= b.MaxSize), b.Clusters));

            // Each stored vector's cluster, read in pages of three by the last member seen.
            foreach (var (root, members) in expected.Where(c => c.Value.Count >= 2).Take(15))
            {
                var seen = new List<string>();
                long after = 0;
                while (await engine.GetClusterOfAsync(names[members[^1]], rung, take: 3, after: after) is { Members.Count: > 0 } page)
                {
                    Assert.Equal(root, page.ClusterId);
                    Assert.Equal(members.Count, page.Size);
                    Assert.Equal(names[members[0]], page.Canonical);
                    seen.AddRange(page.Members.Select(m => m.ExternalId));
                    after = page.Members[^1].VectorId;
                }

                Assert.Equal(members.Select(id => names[id]), seen);
            }
        }

        Assert.True(merges > 0);
    }

    private static async Task<(Dictionary<long, string> Names, HashSet<long> Deleted, List<VerifiedEdge> Edges)> ReadStoreAsync(string location)
    {
        await using var store = DedupStores.Open(location);
        var names = new Dictionary<long, string>();
        await foreach (var v in store.ReadVectorsAsync())
        {
            names[v.VectorId] = v.ExternalId;
        }

        var deleted = new HashSet<long>();
        await foreach (var id in store.ReadDeletedAsync())
        {
            deleted.Add(id);
        }

        var edges = new List<VerifiedEdge>();
        await foreach (var e in store.ReadEdgesAsync())
        {
            edges.Add(e);
        }

        Assert.NotEmpty(deleted);
        return (names, deleted, edges);
    }

    /// <summary>Root (smallest id, stored or deleted) → stored members in id order, for every component with a stored member.</summary>
    private static Dictionary<long, List<long>> Components(Dictionary<long, string> names, IEnumerable<VerifiedEdge> edges)
    {
        var forest = new UnionFind();
        foreach (var e in edges)
        {
            forest.Union(e.A, e.B);
        }

        return names.Keys.GroupBy(forest.Find).ToDictionary(g => g.Key, g => g.Order().ToList());
    }

    public void Dispose() => _stores.Dispose();
}
