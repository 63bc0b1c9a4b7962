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

    /// <inheritdoc />
    public override string ToString() => $"{High:x16}{Low:x16}";
}
