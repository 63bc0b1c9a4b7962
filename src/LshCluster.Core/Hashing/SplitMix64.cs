namespace LshCluster.Core.Hashing;

/// <summary>
/// SplitMix64 (Steele, Lea, Flood 2014): the pseudo-random generator that derives every random choice of an LSH
/// scheme from its seed. It is part of the persisted scheme: changing it changes every bucket key.
/// </summary>
public struct SplitMix64
{
    private ulong _state;

    /// <summary>Starts a stream at <paramref name="seed"/>.</summary>
    public SplitMix64(ulong seed) => _state = seed;

    /// <summary>Starts the stream for one purpose of a scheme, e.g. (seed, table, rotation, diagonal).</summary>
    public static SplitMix64 ForStream(ulong seed, ulong a, ulong b = 0, ulong c = 0) =>
        new(Mix64.Combine(Mix64.Combine(Mix64.Combine(seed, a), b), c));

    /// <summary>The next 64 pseudo-random bits.</summary>
    public ulong Next()
    {
        _state += Mix64.Gamma;
        return Mix64.Mix(_state);
    }

    /// <summary>A double uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A standard normal deviate (Box–Muller; the second value is discarded for simplicity).</summary>
    public double NextGaussian()
    {
        var u1 = 1.0 - NextDouble();
        var u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
