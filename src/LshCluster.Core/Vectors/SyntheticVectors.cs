using LshCluster.Core.Hashing;
using LshCluster.Core.Kernels;

namespace LshCluster.Core.Vectors;

/// <summary>Random unit vectors and planted near-duplicates at an exact cosine, for planning, tests and demos.</summary>
public static class SyntheticVectors
{
    /// <summary>Fills <paramref name="destination"/> with a uniformly random unit vector.</summary>
    public static void RandomUnit(ref SplitMix64 rng, Span<float> destination)
    {
        double squared;
        do
        {
            squared = 0;
            for (var i = 0; i < destination.Length; i++)
            {
                var g = (float)rng.NextGaussian();
                destination[i] = g;
                squared += (double)g * g;
            }
        }
        while (squared == 0);

        var scale = (float)(1 / Math.Sqrt(squared));
        foreach (ref var v in destination)
        {
            v *= scale;
        }
    }

    /// <summary>
    /// Writes a unit vector whose cosine with <paramref name="source"/> is <paramref name="cosine"/> (up to float
    /// rounding): <c>c·x̂ + √(1−c²)·ẑ</c> with ẑ a random unit direction orthogonal to x̂.
    /// </summary>
    /// <exception cref="ArgumentException">The lengths differ, or the source is zero.</exception>
    public static void NearDuplicate(ReadOnlySpan<float> source, double cosine, ref SplitMix64 rng, Span<float> destination)
    {
        if (source.Length != destination.Length)
        {
            throw new ArgumentException("source and destination lengths differ", nameof(destination));
        }

        var d = source.Length;
        var sourceNorm = Math.Sqrt(VectorMath.SquaredNorm(source));
        if (sourceNorm == 0)
        {
            throw new ArgumentException("the source vector is zero", nameof(source));
        }

        var z = new double[d];
        double projection, norm;
        do
        {
            projection = 0;
            for (var i = 0; i < d; i++)
            {
                z[i] = rng.NextGaussian();
                projection += z[i] * source[i] / sourceNorm;
            }

            norm = 0;
            for (var i = 0; i < d; i++)
            {
                z[i] -= projection * source[i] / sourceNorm;
                norm += z[i] * z[i];
            }
        }
        while (norm < 1e-12);

        var sine = Math.Sqrt(Math.Max(0, 1 - (cosine * cosine)));
        norm = Math.Sqrt(norm);
        for (var i = 0; i < d; i++)
        {
            destination[i] = (float)((cosine * source[i] / sourceNorm) + (sine * z[i] / norm));
        }
    }
}
