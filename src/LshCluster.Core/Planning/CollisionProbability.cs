namespace LshCluster.Core.Planning;

/// <summary>
/// Exact single-function collision probabilities of the LSH families, as functions of the cosine of two vectors.
/// </summary>
public static class CollisionProbability
{
    private const double Limit = 8.0;
    private const int Steps = 256;

    /// <summary>
    /// Hyperplane LSH (Charikar): one sign bit collides with probability <c>1 − θ/π</c>, θ = arccos(cos).
    /// </summary>
    public static double Hyperplane(double cosine) => 1 - (Math.Acos(Math.Clamp(cosine, -1, 1)) / Math.PI);

    /// <summary>
    /// Cross-polytope LSH over <paramref name="n"/> coordinates: the probability that two vectors of cosine ρ
    /// have the same largest-magnitude coordinate with the same sign after a random rotation,
    /// <c>p = 2n ∫∫_{u,v&gt;0} φ_ρ(u,v) F_ρ(u,v)^(n−1) du dv</c>, with φ_ρ the bivariate normal density of
    /// correlation ρ and <c>F_ρ(u,v) = P(|X| &lt; u, |Y| &lt; v)</c>. Computed numerically (Simpson's rule for F,
    /// the trapezoidal rule — spectrally accurate for this smooth, vanishing integrand — for the outer integral).
    /// The asymptotic formula of the paper is off by about a factor of two at these dimensions and is not used.
    /// </summary>
    /// <param name="n">Coordinates the argmax ranges over (the padded dimension), ≥ 1.</param>
    /// <param name="rho">The cosine, in (−1, 1]; 1 gives 1.</param>
    public static double CrossPolytope(int n, double rho)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        if (rho >= 1)
        {
            return 1;
        }

        if (n == 1)
        {
            // Only the sign: the hyperplane probability.
            return Hyperplane(rho);
        }

        rho = Math.Max(rho, -0.999999);
        var s = Math.Sqrt(1 - (rho * rho));
        var h = Limit / Steps;

        // F[i, j] = P(|X| < u_i, |Y| < v_j) = 2 ∫_0^{u_i} φ(x) (Φ((v_j − ρx)/s) − Φ((−v_j − ρx)/s)) dx.
        var f = new double[Steps + 1, Steps + 1];
        Parallel.For(1, Steps + 1, j =>
        {
            var v = j * h;
            double G(double x) => Gaussian.Density(x) * (TabulatedCdf.Of((v - (rho * x)) / s) - TabulatedCdf.Of((-v - (rho * x)) / s));
            var previous = G(0);
            var cumulative = 0.0;
            for (var i = 1; i <= Steps; i++)
            {
                var x = i * h;
                var current = G(x);
                cumulative += h / 6 * (previous + (4 * G(x - (h / 2))) + current);
                previous = current;
                f[i, j] = Math.Min(1, 2 * cumulative);
            }
        });

        // Outer integral; the integrand vanishes on the axes (F = 0) and at the far edges.
        var norm = 1 / (2 * Math.PI * s);
        var total = 0.0;
        for (var i = 1; i <= Steps; i++)
        {
            var u = i * h;
            for (var j = 1; j <= Steps; j++)
            {
                var fv = f[i, j];
                if (fv <= 0)
                {
                    continue;
                }

                var v = j * h;
                var density = norm * Math.Exp(-((u * u) - (2 * rho * u * v) + (v * v)) / (2 * s * s));
                total += density * Math.Exp((n - 1) * Math.Log(fv));
            }
        }

        return Math.Clamp(2.0 * n * total * h * h, 0, 1);
    }

    /// <summary>
    /// The probability that a whole cross-polytope table (k rotations over d′ coordinates, the last over
    /// <paramref name="lastDimension"/>) puts two vectors of cosine ρ in the same bucket.
    /// </summary>
    public static double CrossPolytopeTable(int paddedDimension, int k, int lastDimension, double rho)
    {
        var full = CrossPolytope(paddedDimension, rho);
        var last = lastDimension == paddedDimension ? full : CrossPolytope(lastDimension, rho);
        return Math.Pow(full, k - 1) * last;
    }
}

/// <summary>
/// Φ from a table: cubic Hermite interpolation (values and their slopes, the density) on a grid of 1/128 over
/// [−9, 9], within about 1e-11 of <see cref="Gaussian.Cdf"/> and some fifty times faster. The cross-polytope integral
/// takes some 200,000 values of Φ per cosine, and a plan from a sample some hundreds of cosines.
/// </summary>
internal static class TabulatedCdf
{
    private const double Range = 9;
    private const double Step = 1.0 / 128;
    private static readonly double[] Values;
    private static readonly double[] Slopes;

#pragma warning disable CA1810 // one loop fills both tables
    static TabulatedCdf()
#pragma warning restore CA1810
    {
        var count = (int)(2 * Range / Step) + 2;
        Values = new double[count];
        Slopes = new double[count];
        for (var i = 0; i < count; i++)
        {
            var x = -Range + (i * Step);
            Values[i] = Gaussian.Cdf(x);
            Slopes[i] = Gaussian.Density(x) * Step;
        }
    }

    /// <summary>Φ(<paramref name="x"/>).</summary>
    public static double Of(double x)
    {
        if (!(x > -Range))
        {
            return 0; // Φ(−9) ≈ 1e-19
        }

        if (x >= Range)
        {
            return 1;
        }

        var t = (x + Range) / Step;
        var i = (int)t;
        var u = t - i;
        var u2 = u * u;
        var u3 = u2 * u;
        return (((2 * u3) - (3 * u2) + 1) * Values[i]) + ((u3 - (2 * u2) + u) * Slopes[i])
            + (((3 * u2) - (2 * u3)) * Values[i + 1]) + ((u3 - u2) * Slopes[i + 1]);
    }
}
