using System.Numerics;

namespace LshCluster.Core.Hashing;

/// <summary>
/// 128 sign bits of a pseudo-random rotation of a vector. The Hamming distance h between two sketches estimates
/// their angle: E[h] = 128 θ / π. Bucket shards keep sketches to discard far candidates without fetching vectors.
/// </summary>
/// <param name="Low">Bits 0–63.</param>
/// <param name="High">Bits 64–127.</param>
public readonly record struct Sketch128(ulong Low, ulong High)
{
    /// <summary>The number of differing bits, 0 … 128.</summary>
    public int HammingDistance(Sketch128 other) =>
        BitOperations.PopCount(Low ^ other.Low) + BitOperations.PopCount(High ^ other.High);

    /// <summary>The angle estimate <c>π h / 128</c> turned into a cosine estimate.</summary>
    public double EstimateCosine(Sketch128 other) => Math.Cos(Math.PI * HammingDistance(other) / 128.0);

    /// <summary>
    /// The most differing bits a pair at cosine <paramref name="lowestRung"/> is allowed: the mean of the binomial
    /// Hamming distance plus six standard deviations, so a true near-duplicate is practically never dropped.
    /// </summary>
    public static int MaxHamming(double lowestRung)
    {
        var p = Math.Acos(Math.Clamp(lowestRung, -1, 1)) / Math.PI;
        return (int)Math.Min(128, Math.Ceiling((128 * p) + (6 * Math.Sqrt(128 * p * (1 - p)))));
    }

    /// <summary>
    /// The chance that two vectors of cosine <paramref name="cosine"/> have sketches at most <paramref name="maxHamming"/>
    /// bits apart: the binomial distribution of 128 bits, each differing with probability θ/π.
    /// </summary>
    public static double PassProbability(double cosine, int maxHamming)
    {
        var p = Math.Acos(Math.Clamp(cosine, -1, 1)) / Math.PI;
        if (p <= 0)
        {
            return 1;
        }

        if (p >= 1)
        {
            return maxHamming >= 128 ? 1 : 0;
        }

        // pmf(i + 1) = pmf(i) · (128 − i)/(i + 1) · p/(1 − p), in logarithms so that (1 − p)^128 does not underflow.
        var log = 128 * Math.Log(1 - p);
        var ratio = Math.Log(p / (1 - p));
        double total = 0;
        for (var i = 0; i <= Math.Min(128, maxHamming); i++)
        {
            total += Math.Exp(log);
            log += Math.Log((128.0 - i) / (i + 1)) + ratio;
        }

        return Math.Min(1, total);
    }

    /// <inheritdoc />
    public override string ToString() => $"{High:x16}{Low:x16}";
}
