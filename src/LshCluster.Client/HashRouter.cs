using LshCluster.Core.Hashing;
using LshCluster.Core.Kernels;

namespace LshCluster.Client;

/// <summary>
/// The client's per-vector work before sending: everything the home silo needs from hashing (bucket keys, probes,
/// sketch, screening projection, squared norm), written into the caller's buffers, and the vector's home shard.
/// Allocates nothing, so that routing costs no more than hashing. Thread-safe.
/// </summary>
public sealed class HashRouter(LshScheme scheme)
{
    private readonly LshHasher _hasher = new(scheme);

    /// <summary>The scheme hashed with.</summary>
    public LshScheme Scheme { get; } = scheme;

    /// <summary>Values in the screening projection.</summary>
    public int ProjectionLength => _hasher.ProjectionLength;

    /// <summary>Keys in <c>probeKeys</c>: tables × probes when the scheme probes several buckets per table, else 0.</summary>
    public int ProbeKeyCount => Scheme.Probes > 1 ? Scheme.Tables * Scheme.Probes : 0;

    /// <summary>Hashes <paramref name="values"/> and returns the home shard of <paramref name="externalId"/>.</summary>
    /// <param name="externalId">The producer's id: it alone decides the home shard.</param>
    /// <param name="values">The vector (validated by the caller).</param>
    /// <param name="keys">Receives one bucket key per table.</param>
    /// <param name="probeKeys">Receives <see cref="ProbeKeyCount"/> probe keys.</param>
    /// <param name="projection">Receives <see cref="ProjectionLength"/> projected values.</param>
    /// <param name="sketch">The 128-bit sketch.</param>
    /// <param name="squaredNorm">The squared norm of <paramref name="values"/>.</param>
    public int Route(string externalId, ReadOnlySpan<float> values, Span<ulong> keys, Span<ulong> probeKeys, Span<float> projection, out Sketch128 sketch, out float squaredNorm)
    {
        _hasher.Hash(values, keys, default, probeKeys);
        sketch = _hasher.ComputeSketch(values, projection);
        squaredNorm = VectorMath.SquaredNorm(values);
        return Scheme.HomeShard(externalId);
    }
}
