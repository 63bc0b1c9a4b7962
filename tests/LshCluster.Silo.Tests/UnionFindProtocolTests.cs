using LshCluster.Core.Ids;
using LshCluster.Grains.Shards;
using LshCluster.Silo.Engine;

namespace LshCluster.Silo.Tests;

public sealed class UnionFindProtocolTests : IDisposable
{
    private readonly TempStores _stores = new();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Random_edge_streams_applied_concurrently_in_random_orders_give_the_sequential_components_at_every_rung(int seed)
    {
        float[] rungs = [0.99f, 0.95f, 0.9f];
        await using var engine = await TempStores.CreateAsync(_stores.NewSqlite(), TempStores.Plan(16, rungs, shards: 16));
        var random = new Random(seed);
        var ids = Enumerable.Range(0, 400).Select(i => VectorId.Create(1000 + i, random.Next(16), i % 64)).Distinct().ToArray();
        var edges = Enumerable.Range(0, 500).Select(_ =>
        {
            var a = ids[random.Next(ids.Length)];
            var b = ids[random.Next(ids.Length)];
            return (A: Math.Min(a, b), B: Math.Max(a, b), Cosine: 0.88f + (0.12f * (float)random.NextDouble()));
        }).Where(e => e.A != e.B).ToList();
        var shuffled = edges.OrderBy(_ => random.Next()).ToList();

        // Eight workers apply interleaved slices of the shuffled stream at once.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            for (var k = w; k < shuffled.Count; k += 8)
            {
                await engine.UnionForTestsAsync(shuffled[k].A, shuffled[k].B, shuffled[k].Cosine);
            }
        })));

        await AssertSequentialComponentsAsync(engine, rungs, edges, ids);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public async Task Batches_of_edges_united_through_their_roots_concurrently_give_the_sequential_components(int seed)
    {
        // Dense components (few ids, many edges) so that concurrent batches race for the same roots and some links
        // are refused and retried.
        float[] rungs = [0.99f, 0.95f];
        await using var engine = await TempStores.CreateAsync(_stores.NewSqlite(), TempStores.Plan(16, rungs, shards: 16));
        var random = new Random(seed);
        var ids = Enumerable.Range(0, 120).Select(i => VectorId.Create(1000 + i, random.Next(16), i % 64)).Distinct().ToArray();
        var edges = Enumerable.Range(0, 600).Select(_ => (A: ids[random.Next(ids.Length)], B: ids[random.Next(ids.Length)], Cosine: 0.94f + (0.06f * (float)random.NextDouble())))
            .Where(e => e.A != e.B).ToList();

        await Task.WhenAll(edges.Chunk(20).Select(batch => Task.Run(() => engine.UnionBatchForTestsAsync(batch))));

        await AssertSequentialComponentsAsync(engine, rungs, edges, ids);
    }

    public void Dispose() => _stores.Dispose();

    /// <summary>At every rung, each id's root in the engine is its root when the edges are applied one by one.</summary>
    private static async Task AssertSequentialComponentsAsync(DedupEngine engine, float[] rungs, List<(long A, long B, float Cosine)> edges, long[] ids)
    {
        for (var r = 0; r < rungs.Length; r++)
        {
            var reference = new UnionFind();
            foreach (var e in edges.Where(e => e.Cosine >= rungs[r]))
            {
                reference.Union(e.A, e.B);
            }

            foreach (var id in ids)
            {
                Assert.Equal(reference.Find(id), await engine.FindForTestsAsync(id, r));
            }
        }
    }
}
