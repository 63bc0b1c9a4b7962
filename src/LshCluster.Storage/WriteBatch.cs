using LshCluster.Core.Hashing;

namespace LshCluster.Storage;

/// <summary>
/// What one group commit writes: new vectors, new edges and deletions, fenced by the epochs of the shards they belong
/// to. Deletions are applied before the new vectors, so a batch may delete an external id and store it again.
/// </summary>
/// <param name="Fences">(shard, epoch) for every shard whose state the batch changes; checked before writing.</param>
/// <param name="Vectors">New vector rows.</param>
/// <param name="Edges">New verified edges.</param>
public sealed record WriteBatch(
    IReadOnlyList<ShardFence> Fences,
    IReadOnlyList<StoredVector> Vectors,
    IReadOnlyList<VerifiedEdge> Edges)
{
    /// <summary>Vector ids to delete: each row leaves <c>vectors</c> and its id is kept as deleted. Ids not stored are skipped.</summary>
    public IReadOnlyList<long> Deletions { get; init; } = [];

    /// <summary>
    /// The scheme the vectors' bucket keys were computed with (null: the stored one). A learning scheme is checked against
    /// the stored scheme in the commit's transaction: once the cluster has fixed its hashing (ADR 0009), a batch hashed
    /// before is refused with <see cref="SchemeChangedException"/>. The bucket log groups entries by it.
    /// </summary>
    public LshScheme? Scheme { get; init; }

    /// <summary>
    /// The vectors' bucket entries are not written to PostgreSQL's bucket log (the embedded engine loads its shards from
    /// the vectors' keys): the store marks its log incomplete in the same transaction, and the next load of a single
    /// shard rebuilds it from the keys first. SQLite keeps no log and ignores it.
    /// </summary>
    public bool WithoutBucketLog { get; init; }

    /// <summary>
    /// What the commit tells the change feed (ADR 0011): written as one feed row at the next position, in the same
    /// transaction, when there are any.
    /// </summary>
    public IReadOnlyList<FeedEvent> Events { get; init; } = [];
}

/// <summary>The epoch under which a shard's writes are allowed.</summary>
public readonly record struct ShardFence(int Shard, long Epoch);
