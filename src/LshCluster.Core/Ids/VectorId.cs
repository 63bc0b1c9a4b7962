namespace LshCluster.Core.Ids;

/// <summary>
/// The 64-bit internal id of a stored vector: <c>0 | 41 bits of milliseconds since 2025-01-01 UTC | 16 bits of home
/// shard | 6 bits of sequence</c>. Ids grow with time, so the smallest id of a cluster — its root, canonical member
/// and cluster id — is the member registered first; the home shard is readable from the id, so a parent pointer
/// or an edge endpoint needs no lookup to be routed. See docs/adr/0002-vector-ids-verdicts-and-clusters.md.
/// </summary>
public static class VectorId
{
    /// <summary>Bits of the sequence within one millisecond and shard.</summary>
    public const int SequenceBits = 6;

    /// <summary>Bits of the home shard (LshScheme allows up to 65,536 shards).</summary>
    public const int ShardBits = 16;

    /// <summary>The epoch of the time field.</summary>
    public static readonly DateTimeOffset Epoch = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Composes an id.</summary>
    public static long Create(long milliseconds, int shard, int sequence) =>
        (milliseconds << (ShardBits + SequenceBits)) | ((long)shard << SequenceBits) | (long)sequence;

    /// <summary>The home shard encoded in <paramref name="id"/>.</summary>
    public static int HomeShard(long id) => (int)((id >> SequenceBits) & ((1 << ShardBits) - 1));

    /// <summary>The milliseconds since <see cref="Epoch"/> encoded in <paramref name="id"/>.</summary>
    public static long Milliseconds(long id) => id >> (ShardBits + SequenceBits);

    /// <summary>When the id was issued (to the millisecond; ids borrowed from the future under bursts run ahead).</summary>
    public static DateTimeOffset Timestamp(long id) => Epoch.AddMilliseconds(Milliseconds(id));
}
