using LshCluster.Core.Evaluation;
using LshCluster.Core.Hashing;
using LshCluster.Core.Kernels;
using LshCluster.Silo.Engine;
using LshCluster.Storage;

namespace LshCluster.Silo.Tests;

/// <summary>
/// A cluster created without a sample (ADR 0009): exact while it learns, then a plan of its own data, fixed once, with
/// the vectors it learned from still found, and nothing refused across the switch.
/// </summary>
public sealed class LearningTests : IDisposable
{
    private const int Dimension = 64;
    private const int LearnFrom = 400;
    private static readonly float[] Rungs = [0.98f, 0.95f];
    private readonly TempStores _stores = new();

    private static LshScheme Learning(double? maxBytesPerVector = null) =>
        LshScheme.ForLearning(Dimension, Rungs, new LearningPlan(LearnFrom, 0.995, 1, 10_000, maxBytesPerVector), shardCount: 64, seed: 7);

    [Fact]
    public async Task Exact_while_learning_then_a_fixed_plan_that_still_finds_the_learned_vectors_and_survives_a_reload()
    {
        var store = _stores.NewSqlite();
        var (vectors, _) = PlantedSet.GenerateWithGroups(Dimension, 1500, seed: 11);
        var learning = Learning();
        var verdicts = new Verdict[vectors.Count];
        await using (var engine = await TempStores.CreateAsync(store, learning))
        {
            Assert.False(engine.Learned.IsCompleted);

            // The first N, one batch after another: each answered as a brute force over everything stored before it.
            for (var start = 0; start < LearnFrom; start += 100)
            {
                await InsertAsync(engine, vectors, start, 100, verdicts);
            }

            for (var i = 0; i < LearnFrom; i++)
            {
                var exact = Enumerable.Range(0, i).Select(j => VectorMath.Cosine(vectors[i], vectors[j])).DefaultIfEmpty(0).Max();
                Assert.True((verdicts[i].Kind == VerdictKind.Duplicate) == (exact >= Rungs[^1]), $"vector {i}: {verdicts[i].Kind}, exact best cosine {exact}");
                if (exact >= Rungs[^1])
                {
                    Assert.Equal(exact, verdicts[i].BestCosine!.Value, 4);
                }
            }

            // The rest, four batches at a time: those sent while the scheme is fixed wait for it, none is refused.
            await Task.WhenAll(Enumerable.Range(0, 4).Select(async lane =>
            {
                for (var start = LearnFrom + (lane * 50); start < vectors.Count; start += 200)
                {
                    await InsertAsync(engine, vectors, start, 50, verdicts);
                }
            }));
            await engine.Learned.WaitAsync(TimeSpan.FromSeconds(60));

            var fixedScheme = engine.Scheme;
            Assert.False(fixedScheme.IsLearning);
            Assert.Null(engine.LearningFailure);
            Assert.True(fixedScheme.Tables > 1, fixedScheme.ToString());
            Assert.Equal((learning.Dimension, learning.ShardCount, learning.Seed), (fixedScheme.Dimension, fixedScheme.ShardCount, fixedScheme.Seed));
            Assert.Equal(learning.Rungs, fixedScheme.Rungs);
            Assert.Equal(vectors.Count, (await engine.GetCountsAsync()).Vectors);
            await AssertFindsPairsAcrossTheSwitchAsync(engine, vectors);
        }

        // Reopened, the store holds the fixed scheme, and the learned vectors are in its buckets.
        await using var reopened = await DedupEngine.OpenAsync(DedupStores.Open(store));
        Assert.True(reopened.Learned.IsCompleted);
        Assert.False(reopened.Scheme.IsLearning);
        await AssertFindsPairsAcrossTheSwitchAsync(reopened, vectors);
    }

    [Fact]
    public async Task A_plan_that_cannot_be_made_keeps_the_cluster_exact_and_says_why()
    {
        // No plan fits in 10 bytes per vector: the cluster keeps answering exactly, and tells why it has not fixed its scheme.
        var (vectors, _) = PlantedSet.GenerateWithGroups(Dimension, 600, seed: 12);
        var verdicts = new Verdict[vectors.Count];
        await using var engine = await TempStores.CreateAsync(_stores.NewSqlite(), Learning(maxBytesPerVector: 10));
        for (var start = 0; start < vectors.Count; start += 100)
        {
            await InsertAsync(engine, vectors, start, 100, verdicts);
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (engine.LearningFailure is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Contains("bytes per vector", engine.LearningFailure?.Message);
        Assert.True(engine.Scheme.IsLearning);
        Assert.False(engine.Learned.IsCompleted);
        Assert.Equal(vectors.Count, (await engine.GetCountsAsync()).Vectors);
    }

    private static async Task InsertAsync(DedupEngine engine, List<float[]> vectors, int start, int count, Verdict[] verdicts)
    {
        var n = Math.Min(count, vectors.Count - start);
        var results = await engine.InsertAsync([.. Enumerable.Range(start, n).Select(i => new VectorInput($"v{i}", vectors[i]))]);
        for (var k = 0; k < n; k++)
        {
            Assert.Null(results[k].Error);
            verdicts[start + k] = results[k].Verdict!;
        }
    }

    /// <summary>
    /// Every near pair of a learned vector and a later one is joined at the lowest rung, and each learned vector is found
    /// by a query through the fixed scheme's buckets (so their keys were rewritten).
    /// </summary>
    private static async Task AssertFindsPairsAcrossTheSwitchAsync(DedupEngine engine, List<float[]> vectors)
    {
        var clusterOf = new Dictionary<string, int>();
        var clusters = await engine.ExportClustersAsync(Rungs.Length - 1, includeSingletons: true);
        for (var c = 0; c < clusters.Count; c++)
        {
            foreach (var id in clusters[c])
            {
                clusterOf[id] = c;
            }
        }

        var pairs = ExactNeighbours.Pairs(vectors, Rungs[^1]).Where(p => Math.Min(p.I, p.J) < LearnFrom && Math.Max(p.I, p.J) >= LearnFrom).ToList();
        Assert.True(pairs.Count >= 20, $"only {pairs.Count} pairs across the switch");
        var joined = pairs.Count(p => clusterOf[$"v{p.I}"] == clusterOf[$"v{p.J}"]);
        Assert.True(joined >= 0.99 * pairs.Count, $"{joined} of {pairs.Count} pairs across the switch joined");

        for (var i = 0; i < 50; i++)
        {
            var found = await engine.FindNearDuplicatesAsync(vectors[i], 0.999f);
            Assert.Contains(found, n => n.ExternalId == $"v{i}");
        }
    }

    public void Dispose() => _stores.Dispose();
}
