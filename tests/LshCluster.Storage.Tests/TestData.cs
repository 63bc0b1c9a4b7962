using LshCluster.Core.Hashing;

namespace LshCluster.Storage.Tests;

/// <summary>Small schemes, vectors and batches for the store tests.</summary>
internal static class TestData
{
    public const int Dimension = 8;
    public const int Tables = 3;
    public const int ShardCount = 16;

    public static LshScheme Scheme() =>
        new(LshFamily.CrossPolytope, dimension: Dimension, hashesPerTable: 2, tables: Tables, seed: 1, rungs: [0.95f, 0.9f], shardCount: ShardCount);

    /// <summary>The scheme of a cluster learning its hashing, with the routing part of <see cref="Scheme"/>.</summary>
    public static LshScheme LearningScheme() =>
        LshScheme.ForLearning(Dimension, [0.95f, 0.9f], new LearningPlan(20, 0.99, 1, 1000), ShardCount, seed: 1);

    /// <summary>The one bucket key of a learning scheme.</summary>
    public static ulong LearningKey => 0x1EA2_0000_0000_0001UL;

    /// <summary>Stand-in keys of a fixed scheme: a function of the values alone, as hashing is, different per vector.</summary>
    public static ulong[] FixedKeys(float[] values) =>
        [.. Enumerable.Range(0, Tables).Select(t => ((ulong)t << 56) ^ BitConverter.SingleToUInt32Bits(values[4]) ^ ((ulong)BitConverter.SingleToUInt32Bits(values[5]) << 24))];

    /// <summary>
    /// A vector whose every field depends on <paramref name="id"/>, with values that a lossy encoding would change:
    /// negative zero, a subnormal, a NaN with a payload, the extremes; keys and sketch with the top bit set.
    /// </summary>
    public static StoredVector Vector(long id, int? homeShard = null, string? externalId = null)
    {
        var random = new Random((int)id);
        var values = new float[Dimension];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (float)((random.NextDouble() * 2) - 1);
        }

        values[id % Dimension] = -0f;
        values[(id + 1) % Dimension] = float.Epsilon;
        values[(id + 2) % Dimension] = BitConverter.Int32BitsToSingle(0x7FC0_1234);
        values[(id + 3) % Dimension] = id % 2 == 0 ? float.MaxValue : float.MinValue;

        var keys = new ulong[Tables];
        for (var t = 0; t < keys.Length; t++)
        {
            keys[t] = unchecked((ulong)random.NextInt64()) | (t == 0 ? 1UL << 63 : 0);
        }

        var duplicate = id % 3 == 0;
        return new StoredVector(
            VectorId: id,
            ExternalId: externalId ?? $"item-{id}-ü",
            HomeShard: homeShard ?? (int)(id % ShardCount),
            Values: values,
            BucketKeys: keys,
            SketchLow: 0x8000_0000_0000_0001UL ^ (ulong)id,
            SketchHigh: ulong.MaxValue - (ulong)id,
            Verdict: duplicate
                ? new StoredVerdict(true, Canonical: id - 1, BestMatch: id - 2, BestCosine: 0.9876543f)
                : new StoredVerdict(false, Canonical: id, BestMatch: id + 7, BestCosine: id % 3 == 1 ? float.NaN : 0.25f),
            InsertedAt: DateTimeOffset.FromUnixTimeMilliseconds(1_760_000_000_123 + id));
    }

    /// <summary>Fences at epoch 0 (a freshly created cluster) for every shard the vectors live on.</summary>
    public static ShardFence[] FencesAtCreation(IEnumerable<StoredVector> vectors) =>
        [.. vectors.Select(v => v.HomeShard).Distinct().Select(s => new ShardFence(s, 0))];

    public static WriteBatch Batch(IReadOnlyList<StoredVector> vectors, params VerifiedEdge[] edges) =>
        new(FencesAtCreation(vectors), vectors, edges);

    /// <summary>Asserts that two stored vectors are equal field by field, floats compared by their bits.</summary>
    public static void AssertSame(StoredVector expected, StoredVector actual)
    {
        Assert.Equal(expected.VectorId, actual.VectorId);
        Assert.Equal(expected.ExternalId, actual.ExternalId);
        Assert.Equal(expected.HomeShard, actual.HomeShard);
        Assert.Equal(expected.Values.Select(BitConverter.SingleToInt32Bits), actual.Values.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(expected.BucketKeys, actual.BucketKeys);
        Assert.Equal(expected.SketchLow, actual.SketchLow);
        Assert.Equal(expected.SketchHigh, actual.SketchHigh);
        Assert.Equal(expected.Verdict.IsDuplicate, actual.Verdict.IsDuplicate);
        Assert.Equal(expected.Verdict.Canonical, actual.Verdict.Canonical);
        Assert.Equal(expected.Verdict.BestMatch, actual.Verdict.BestMatch);
        if (float.IsNaN(expected.Verdict.BestCosine))
        {
            Assert.True(float.IsNaN(actual.Verdict.BestCosine), $"best cosine {actual.Verdict.BestCosine} should be NaN");
        }
        else
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(expected.Verdict.BestCosine), BitConverter.SingleToInt32Bits(actual.Verdict.BestCosine));
        }

        Assert.Equal(expected.InsertedAt, actual.InsertedAt);
        Assert.Equal(TimeSpan.Zero, actual.InsertedAt.Offset);
    }

    public static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> source)
    {
        var list = new List<T>();
        await foreach (var item in source)
        {
            list.Add(item);
        }

        return list;
    }
}
