namespace LshCluster.Storage;

/// <summary>
/// One stored vector: written once, at its home shard, with the verdict it was given (so that a re-send of the same
/// external id gets the same answer) and its bucket keys (so that its bucket entries can be rebuilt and removed).
/// </summary>
/// <param name="VectorId">The 64-bit time-ordered id (time | home shard | sequence); primary key.</param>
/// <param name="ExternalId">The producer's id; unique.</param>
/// <param name="HomeShard">The shard that owns the row.</param>
/// <param name="Values">The vector at full precision.</param>
/// <param name="BucketKeys">The L bucket keys, table by table.</param>
/// <param name="SketchLow">Low 64 bits of the 128-bit sign sketch.</param>
/// <param name="SketchHigh">High 64 bits of the sketch.</param>
/// <param name="Verdict">The verdict given at insert.</param>
/// <param name="InsertedAt">When the vector was registered (UTC).</param>
public sealed record StoredVector(
    long VectorId,
    string ExternalId,
    int HomeShard,
    float[] Values,
    ulong[] BucketKeys,
    ulong SketchLow,
    ulong SketchHigh,
    StoredVerdict Verdict,
    DateTimeOffset InsertedAt);

/// <summary>
/// A verdict as stored: <paramref name="IsDuplicate"/> false means new. For a duplicate, the canonical member and the
/// cluster (the same id: the cluster's root) at the highest rung reached, the best match and its cosine.
/// </summary>
public readonly record struct StoredVerdict(bool IsDuplicate, long Canonical, long BestMatch, float BestCosine);

/// <summary>A verified edge: two vectors whose exact cosine is at least the lowest rung. <c>A</c> &lt; <c>B</c>.</summary>
public readonly record struct VerifiedEdge(long A, long B, float Cosine);
