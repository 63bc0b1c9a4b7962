using LshCluster.Core.Hashing;

namespace LshCluster.Silo.Engine;

/// <summary>
/// A validated vector with everything hashing gives it, ready for its home shard: computed by the silo that took the
/// request (the gateway) or by the .NET client, so that the home silo does not hash again.
/// </summary>
/// <param name="Index">The item's position in the producer's batch.</param>
/// <param name="ExternalId">The producer's id.</param>
/// <param name="Values">The vector.</param>
/// <param name="Keys">One bucket key per table.</param>
/// <param name="ProbeKeys">Tables × probes keys when the scheme probes several buckets per table, else empty.</param>
/// <param name="Sketch">The 128-bit sketch that filters bucket members.</param>
/// <param name="Projection">The short projection that screens candidates.</param>
/// <param name="SquaredNorm">The squared norm of <paramref name="Values"/>.</param>
internal sealed record HashedItem(int Index, string ExternalId, float[] Values, ulong[] Keys, ulong[] ProbeKeys, Sketch128 Sketch, float[] Projection, float SquaredNorm);
