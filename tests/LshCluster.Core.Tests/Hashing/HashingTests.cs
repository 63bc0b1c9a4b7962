using LshCluster.Core.Hashing;
using LshCluster.Core.Vectors;

namespace LshCluster.Core.Tests.Hashing;

[Collection(SimdPathCollection.Name)]
public class HashingTests
{
    public static TheoryData<int> BoundaryDimensions() =>
        [.. Enumerable.Range(1, 70).Concat([100, 127, 129, 384, 385, 768, 784, 1536])];

    [Theory]
    [MemberData(nameof(BoundaryDimensions))]
    public void Every_vector_path_gives_identical_keys_codes_probes_and_sketches(int d)
    {
        var schemes = new[]
        {
            new LshScheme(LshFamily.CrossPolytope, d, 2, 3, 42, [0.9f], probes: 4),
            new LshScheme(LshFamily.Hyperplane, d, 12, 2, 43, [0.9f], probes: 3),
            new LshScheme(LshFamily.SignBands, d, 13, 11, 44, [0.9f], probes: 3), // bands that straddle words and rotations
        };
        var vector = TestData.RandomValues(d, (ulong)d);
        vector[0] += 0.5f; // never all zeros
        foreach (var scheme in schemes)
        {
            var hasher = new LshHasher(scheme);
            var reference = SimdPaths.With(0, () => Hash(hasher, vector));
            foreach (var bits in SimdPaths.Available())
            {
                var actual = SimdPaths.With(bits, () => Hash(hasher, vector));
                Assert.True(reference == actual, $"{scheme.Family} d={d}: the {bits}-bit path gives {actual}, scalar {reference}");
            }
        }
    }

    [Theory]
    [InlineData(100)]
    [InlineData(784)]
    [InlineData(1536)]
    public void A_rotation_preserves_the_norm(int d)
    {
        var hasher = new LshHasher(new LshScheme(LshFamily.CrossPolytope, d, 3, 2, 7, [0.9f]));
        var x = TestData.RandomValues(d, 11);
        var y = new float[hasher.Scheme.PaddedDimension];

        for (var table = 0; table < 2; table++)
        {
            for (var rotation = 0; rotation < 3; rotation++)
            {
                hasher.Rotate(x, table, rotation, y);
                var before = Math.Sqrt(x.Sum(v => (double)v * v));
                var after = Math.Sqrt(y.Sum(v => (double)v * v));
                Assert.True(Math.Abs(after - before) <= 1e-5 * before, $"norm {before} became {after}");
            }
        }
    }

    [Fact]
    public void Hashes_are_scale_invariant_and_depend_on_the_seed()
    {
        var scheme = new LshScheme(LshFamily.CrossPolytope, 128, 2, 8, 1, [0.9f]);
        var other = new LshScheme(LshFamily.CrossPolytope, 128, 2, 8, 2, [0.9f]);
        var x = TestData.RandomValues(128, 3);
        var scaled = x.Select(v => v * 4).ToArray();

        Assert.Equal(Keys(scheme, x), Keys(scheme, scaled));
        Assert.NotEqual(Keys(scheme, x), Keys(other, x));
    }

    [Fact]
    public void The_first_probe_of_every_table_is_its_bucket_key_and_probes_are_distinct()
    {
        var scheme = new LshScheme(LshFamily.CrossPolytope, 200, 2, 5, 9, [0.9f], probes: 8);
        var hasher = new LshHasher(scheme);
        var x = TestData.RandomValues(200, 4);
        var keys = new ulong[5];
        var probes = new ulong[40];

        hasher.Hash(x, keys, default, probes);

        for (var t = 0; t < 5; t++)
        {
            Assert.Equal(keys[t], probes[t * 8]);
            Assert.Equal(8, probes.Skip(t * 8).Take(8).Distinct().Count());
        }
    }

    [Fact]
    public void Probes_that_vary_only_the_last_rotation_stay_on_the_bucket_shard()
    {
        var scheme = new LshScheme(LshFamily.CrossPolytope, 256, 2, 1, 9, [0.9f], shardCount: 1024);
        int[] codes = [17, 300];
        var key = scheme.BucketKey(0, codes);
        var shard = scheme.ShardOfBucket(0, key);

        for (var last = 0; last < 512; last++)
        {
            Assert.Equal(shard, scheme.ShardOfBucket(0, scheme.BucketKey(0, [17, last])));
        }

        var shards = Enumerable.Range(0, 512).Select(first => scheme.ShardOfBucket(0, scheme.BucketKey(0, [first, 300]))).Distinct().Count();
        Assert.True(shards > 300, $"buckets with different first rotations spread over only {shards} shards");
    }

    [Theory]
    [InlineData(64, 20, 9)]  // 180 bits: three rotations of 64, bands straddling words and rotations
    [InlineData(16, 5, 7)]   // rotations shorter than a word
    [InlineData(256, 64, 6)] // whole words
    public void A_sign_band_table_takes_its_bits_from_the_shared_rotations_in_order(int d, int bits, int tables)
    {
        var scheme = new LshScheme(LshFamily.SignBands, d, bits, tables, 21, [0.9f]);
        var hasher = new LshHasher(scheme);
        // Entries ±1: |x|² = d is a power of four here, so x/|x| is exact and its rotation has the signs of x's.
        var rng = new SplitMix64(5);
        var x = Enumerable.Range(0, d).Select(_ => (rng.Next() & 1) == 0 ? 1f : -1f).ToArray();
        var pool = new List<float>();
        var y = new float[d];
        for (var r = 0; r < scheme.RotationsPerVector; r++)
        {
            hasher.Rotate(x, table: 0, r, y);
            pool.AddRange(y);
        }

        var codes = new int[hasher.CodeCount];
        var keys = new ulong[tables];
        hasher.Hash(x, keys, codes, default);

        Assert.Equal(((tables * bits) + d - 1) / d, scheme.RotationsPerVector);
        for (var i = 0; i < tables * bits; i++)
        {
            Assert.True((pool[i] < 0 ? 1 : 0) == codes[i], $"bit {i} (table {i / bits}): code {codes[i]}, rotated coordinate {pool[i]}");
        }

        for (var t = 0; t < tables; t++)
        {
            Assert.Equal(scheme.BucketKey(t, codes.AsSpan(t * bits, bits)), keys[t]);
        }
    }

    [Fact]
    public void Sign_band_probes_flip_the_least_certain_bits_first()
    {
        var scheme = new LshScheme(LshFamily.SignBands, 128, 10, 4, 3, [0.9f], probes: 4);
        var hasher = new LshHasher(scheme);
        var x = TestData.RandomValues(128, 9);
        var keys = new ulong[4];
        var codes = new int[hasher.CodeCount];
        var probes = new ulong[16];
        hasher.Hash(x, keys, codes, probes);
        var y = new float[128];
        hasher.Rotate(x, 0, 0, y);

        for (var t = 0; t < 4; t++)
        {
            Assert.Equal(keys[t], probes[t * 4]);
            // The second probe flips the bit whose rotated coordinate is nearest zero.
            var band = y.Skip(t * 10).Take(10).ToArray();
            var weakest = Array.IndexOf(band, band.MinBy(Math.Abs));
            var flipped = codes.Skip(t * 10).Take(10).ToArray();
            flipped[weakest] ^= 1;
            Assert.Equal(scheme.BucketKey(t, flipped), probes[(t * 4) + 1]);
        }
    }

    [Fact]
    public void Home_shards_spread_evenly()
    {
        var scheme = new LshScheme(LshFamily.CrossPolytope, 16, 1, 1, 1, [0.9f], shardCount: 64);
        var counts = new int[64];
        for (var i = 0; i < 64_000; i++)
        {
            counts[scheme.HomeShard($"doc-{i}")]++;
        }

        Assert.All(counts, c => Assert.InRange(c, 800, 1200));
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.8)]
    [InlineData(0.9)]
    [InlineData(0.95)]
    public void Sketch_distance_estimates_the_angle(double cosine)
    {
        var hasher = new LshHasher(new LshScheme(LshFamily.CrossPolytope, 300, 1, 1, 5, [0.9f]));
        var rng = new SplitMix64(17);
        var x = new float[300];
        var y = new float[300];
        double total = 0;
        const int Pairs = 400;
        for (var p = 0; p < Pairs; p++)
        {
            SyntheticVectors.RandomUnit(ref rng, x);
            SyntheticVectors.NearDuplicate(x, cosine, ref rng, y);
            total += hasher.ComputeSketch(x).HammingDistance(hasher.ComputeSketch(y));
        }

        // The expected distance is 128·θ/π; 400 pairs put the mean within a few tenths of a bit.
        var expected = 128 * Math.Acos(cosine) / Math.PI;
        Assert.Equal(expected, total / Pairs, 1.0);
    }

    [Theory]
    [InlineData(LshFamily.CrossPolytope, 2)]
    [InlineData(LshFamily.SignBands, 16)]
    public void Hashing_allocates_nothing_per_vector(LshFamily family, int k)
    {
        var hasher = new LshHasher(new LshScheme(family, 784, k, 20, 5, [0.9f], probes: 4));
        var x = TestData.RandomValues(784, 1);
        var keys = new ulong[20];
        var probes = new ulong[80];
        hasher.Hash(x, keys, default, probes);
        hasher.ComputeSketch(x);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10; i++)
        {
            hasher.Hash(x, keys, default, probes);
            hasher.ComputeSketch(x);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Invalid_vectors_are_refused_before_hashing()
    {
        var hasher = new LshHasher(new LshScheme(LshFamily.CrossPolytope, 4, 1, 1, 5, [0.9f]));
        var keys = new ulong[1];

        Assert.Equal(VectorErrorCode.WrongDimension, Assert.Throws<InvalidVectorException>(() => hasher.ComputeBucketKeys(new float[3], keys)).Error.Code);
        Assert.Equal(VectorErrorCode.ZeroNorm, Assert.Throws<InvalidVectorException>(() => hasher.ComputeBucketKeys(new float[4], keys)).Error.Code);
        Assert.Equal(VectorErrorCode.NotANumber, Assert.Throws<InvalidVectorException>(() => hasher.ComputeBucketKeys([1, float.NaN, 0, 0], keys)).Error.Code);
    }

    private static ulong[] Keys(LshScheme scheme, float[] x)
    {
        var keys = new ulong[scheme.Tables];
        new LshHasher(scheme).ComputeBucketKeys(x, keys);
        return keys;
    }

    private static string Hash(LshHasher hasher, float[] vector)
    {
        var keys = new ulong[hasher.Scheme.Tables];
        var codes = new int[hasher.CodeCount];
        var probes = new ulong[hasher.ProbeCount];
        hasher.Hash(vector, keys, codes, probes);
        var sketch = hasher.ComputeSketch(vector);
        return $"{string.Join(',', keys)}|{string.Join(',', codes)}|{string.Join(',', probes)}|{sketch}";
    }
}
