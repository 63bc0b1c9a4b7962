namespace LshCluster.Core.Planning;

/// <summary>The standard normal density and distribution function, accurate to about 1e-14.</summary>
public static class Gaussian
{
    private const double InvSqrt2Pi = 0.398942280401432677939946059934;

    /// <summary>φ(x) = exp(−x²/2) / √(2π).</summary>
    public static double Density(double x) => InvSqrt2Pi * Math.Exp(-0.5 * x * x);

    /// <summary>Φ(x) = P(Z ≤ x) for a standard normal Z.</summary>
    public static double Cdf(double x) => x >= 0 ? 1 - (0.5 * Erfc(x / Math.Sqrt(2))) : 0.5 * Erfc(-x / Math.Sqrt(2));

    /// <summary>
    /// The complementary error function for x ≥ 0: the Taylor series of erf below 2.5, a continued fraction above
    /// (both converge fast there and keep full double precision).
    /// </summary>
    public static double Erfc(double x)
    {
        if (x < 0)
        {
            return 2 - Erfc(-x);
        }

        if (x < 2.5)
        {
            // erf(x) = 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1))
            double term = x, sum = x, x2 = x * x;
            for (var n = 1; n < 200; n++)
            {
                term *= -x2 / n;
                var add = term / ((2 * n) + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum))
                {
                    break;
                }
            }

            return 1 - (2 / Math.Sqrt(Math.PI) * sum);
        }

        // erfc(x) = exp(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + …)))), evaluated backwards.
        var fraction = 0.0;
        for (var n = 60; n >= 1; n--)
        {
            fraction = n / 2.0 / (x + fraction);
        }

        return Math.Exp(-x * x) / Math.Sqrt(Math.PI) / (x + fraction);
    }
}
