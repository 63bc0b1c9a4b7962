namespace LshCluster.Storage;

/// <summary>
/// What one group commit writes: new vectors and new edges, fenced by the epochs of the shards they belong to.
/// </summary>
/// <param name="Fences">(shard, epoch) for every shard whose state the batch changes; checked before writing.</param>
/// <param name="Vectors">New vector rows.</param>
/// <param name="Edges">New verified edges.</param>
public sealed record WriteBatch(
    IReadOnlyList<ShardFence> Fences,
    IReadOnlyList<StoredVector> Vectors,
    IReadOnlyList<VerifiedEdge> Edges);

/// <summary>The epoch under which a shard's writes are allowed.</summary>
public readonly record struct ShardFence(int Shard, long Epoch);
