using LshCluster.Core.Evaluation;
using LshCluster.Core.Hashing;
using LshCluster.Core.Kernels;
using LshCluster.Core.Planning;
using LshCluster.Core.Vectors;
using Xunit.Abstractions;

namespace LshCluster.Core.Tests.Planning;

/// <summary>Measured collision rates of the real hashers against the theory the planner relies on.</summary>
public class EmpiricalCollisionTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(0.5)]
    [InlineData(0.8)]
    [InlineData(0.9)]
    [InlineData(0.95)]
    [InlineData(0.99)]
    public void Hyperplane_bits_collide_at_one_minus_angle_over_pi(double cosine)
    {
        var rate = MeasureTableCollisionRate(LshFamily.Hyperplane, 256, cosine, pairs: 50, tables: 400, out var trials);

        var expected = CollisionProbability.Hyperplane(cosine);
        var standardError = Math.Sqrt(expected * (1 - expected) / trials);
        Assert.True(Math.Abs(rate - expected) <= 3 * standardError,
            $"cos {cosine}: measured {rate:F4}, theory {expected:F4}, 3 standard errors = {3 * standardError:F4}");
    }

    [Theory]
    [InlineData(256, 0.90)]
    [InlineData(256, 0.95)]
    [InlineData(1024, 0.90)]
    [InlineData(1024, 0.95)]
    public void Cross_polytope_collides_at_the_planner_integral(int d, double cosine)
    {
        var rate = MeasureTableCollisionRate(LshFamily.CrossPolytope, d, cosine, pairs: 60, tables: 500, out _);

        var expected = CollisionProbability.CrossPolytope(d, cosine);
        Assert.True(Math.Abs(rate - expected) <= 0.01, $"d={d} cos {cosine}: measured {rate:F4}, integral {expected:F4}");
    }

    [Theory]
    [InlineData(0.90, 8)]
    [InlineData(0.95, 16)]
    [InlineData(0.98, 24)]
    public void Sign_band_tables_collide_as_if_their_bits_were_independent(double cosine, int bits)
    {
        // The bands of one rotation are disjoint coordinates of it: orthogonal projections, not independent ones.
        var scheme = new LshScheme(LshFamily.SignBands, 1024, bits, 1024 / bits, 2025, [0.9f]);
        var rng = new SplitMix64((ulong)bits);
        var pairs = Enumerable.Range(0, 300).Select(_ =>
        {
            var x = new float[1024];
            var y = new float[1024];
            SyntheticVectors.RandomUnit(ref rng, x);
            SyntheticVectors.NearDuplicate(x, cosine, ref rng, y);
            return (x, y);
        }).ToList();

        var rate = MeasureBandCollisionRate(scheme, pairs);

        var expected = Math.Pow(CollisionProbability.Hyperplane(cosine), bits);
        output.WriteLine($"cos {cosine}, {bits} bits: measured {rate:F4} per table, independent bits {expected:F4}");
        Assert.True(Math.Abs(rate - expected) <= 0.1 * expected, $"cos {cosine}, {bits} bits: measured {rate:F4} per table, independent bits {expected:F4}");
    }

    [Fact]
    public void Sign_bands_on_centred_Fashion_MNIST_collide_at_the_rate_of_each_pairs_centred_angle()
    {
        // Real near-duplicates (cos ≥ 0.98 among 3,000 images), hashed centred as the planner plans them: the measured
        // rate per table against the mean of (1 − θ/π)^k over the pairs' centred angles.
        var images = IdxReader.TryReadFashionMnist() ?? throw new InvalidOperationException("Fashion-MNIST is missing: scripts/test.sh installs dataset-fashion-mnist");
        var sample = images.Take(3000).ToList();
        var center = new float[784];
        foreach (var v in sample)
        {
            var inverse = 1 / MathF.Sqrt(VectorMath.SquaredNorm(v));
            for (var i = 0; i < 784; i++)
            {
                center[i] += v[i] * inverse / sample.Count;
            }
        }

        var exact = ExactNeighbours.Pairs(sample, 0.98f);
        Assert.True(exact.Count > 200, $"only {exact.Count} pairs at cos ≥ 0.98");
        const int Bits = 20;
        var scheme = new LshScheme(LshFamily.SignBands, 784, Bits, 102, 2026, [0.98f], center: center);
        var pairs = exact.Select(p => (sample[p.I], sample[p.J])).ToList();

        var rate = MeasureBandCollisionRate(scheme, pairs);

        var expected = pairs.Average(p => Math.Pow(CollisionProbability.Hyperplane(LshPlanner.CentredCosine(p.Item1, p.Item2, center)), Bits));
        output.WriteLine($"{pairs.Count} pairs: measured {rate:F4} per table, from the centred angles {expected:F4}");
        Assert.True(Math.Abs(rate - expected) <= 0.1 * expected, $"{pairs.Count} pairs: measured {rate:F4} per table, from the centred angles {expected:F4}");
    }

    private static double MeasureBandCollisionRate(LshScheme scheme, List<(float[] X, float[] Y)> pairs)
    {
        var hasher = new LshHasher(scheme);
        var kx = new ulong[scheme.Tables];
        var ky = new ulong[scheme.Tables];
        long hits = 0;
        foreach (var (x, y) in pairs)
        {
            hasher.ComputeBucketKeys(x, kx);
            hasher.ComputeBucketKeys(y, ky);
            for (var t = 0; t < scheme.Tables; t++)
            {
                hits += kx[t] == ky[t] ? 1 : 0;
            }
        }

        return (double)hits / ((long)pairs.Count * scheme.Tables);
    }

    private static double MeasureTableCollisionRate(LshFamily family, int d, double cosine, int pairs, int tables, out int trials)
    {
        // One hash function per table (k = 1), so every (pair, table) is an independent trial.
        var hasher = new LshHasher(new LshScheme(family, d, 1, tables, 2024, [0.9f]));
        var rng = new SplitMix64((ulong)(d * 1000 + (int)(cosine * 100)));
        var x = new float[d];
        var y = new float[d];
        var kx = new ulong[tables];
        var ky = new ulong[tables];
        var hits = 0;
        for (var p = 0; p < pairs; p++)
        {
            SyntheticVectors.RandomUnit(ref rng, x);
            SyntheticVectors.NearDuplicate(x, cosine, ref rng, y);
            hasher.ComputeBucketKeys(x, kx);
            hasher.ComputeBucketKeys(y, ky);
            for (var t = 0; t < tables; t++)
            {
                hits += kx[t] == ky[t] ? 1 : 0;
            }
        }

        trials = pairs * tables;
        return (double)hits / trials;
    }
}
