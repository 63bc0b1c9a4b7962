using LshCluster.Core.Hashing;
using LshCluster.Core.Planning;
using LshCluster.Core.Vectors;

namespace LshCluster.Core.Tests.Planning;

/// <summary>Measured collision rates of the real hashers against the theory the planner relies on.</summary>
public class EmpiricalCollisionTests
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
