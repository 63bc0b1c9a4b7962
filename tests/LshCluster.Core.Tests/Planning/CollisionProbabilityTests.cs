using LshCluster.Core.Planning;

namespace LshCluster.Core.Tests.Planning;

public class CollisionProbabilityTests
{
    [Theory]
    [InlineData(256, 0.90, 0.401)]
    [InlineData(256, 0.95, 0.543)]
    [InlineData(1024, 0.90, 0.350)]
    [InlineData(1024, 0.95, 0.498)]
    public void Cross_polytope_integral_matches_independently_measured_values(int n, double cosine, double measured)
    {
        var p = CollisionProbability.CrossPolytope(n, cosine);

        Assert.InRange(p, measured - 0.005, measured + 0.005);
    }

    [Theory]
    [InlineData(16)]
    [InlineData(256)]
    public void Cross_polytope_of_orthogonal_vectors_is_one_over_2n(int n)
    {
        var p = CollisionProbability.CrossPolytope(n, 0);

        Assert.Equal(1.0 / (2 * n), p, 1e-4);
    }

    [Fact]
    public void Cross_polytope_probability_increases_with_the_cosine()
    {
        var previous = 0.0;
        foreach (var c in new[] { 0.5, 0.8, 0.9, 0.95, 0.99 })
        {
            var p = CollisionProbability.CrossPolytope(128, c);
            Assert.True(p > previous, $"p({c}) = {p} is not above {previous}");
            previous = p;
        }
    }

    [Fact]
    public void Hyperplane_is_one_minus_angle_over_pi()
    {
        Assert.Equal(0.5, CollisionProbability.Hyperplane(0), 12);
        Assert.Equal(1 - (1.0 / 3), CollisionProbability.Hyperplane(0.5), 12);
        Assert.Equal(1.0, CollisionProbability.Hyperplane(1), 12);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(1.3)]
    [InlineData(2.4)]
    [InlineData(2.6)]
    [InlineData(5.0)]
    public void Normal_cdf_matches_reference_values(double x)
    {
        // Reference values of Φ from tables (Abramowitz & Stegun 26.2), 1 − Φ for the tail.
        var expected = x switch
        {
            0.0 => 0.5,
            0.5 => 0.691462461274013,
            1.3 => 0.903199515414390,
            2.4 => 0.991802464075404,
            2.6 => 0.995338811976281,
            _ => 1 - 2.866515718791939e-7,
        };

        Assert.Equal(expected, Gaussian.Cdf(x), 12);
    }

    [Fact]
    public void The_tabulated_normal_distribution_function_agrees_with_the_series_within_1e_10()
    {
        for (var x = -12.0; x <= 12.0; x += 0.0037)
        {
            Assert.True(Math.Abs(TabulatedCdf.Of(x) - Gaussian.Cdf(x)) < 1e-10, $"x = {x}: {TabulatedCdf.Of(x)} against {Gaussian.Cdf(x)}");
        }
    }
}
