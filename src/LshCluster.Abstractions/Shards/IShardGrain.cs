namespace LshCluster.Abstractions.Shards;

/// <summary>
/// One shard of the cluster (the key is its index, 0 … S − 1): a slice of every table's buckets, the home records of a
/// slice of the vectors and their parent pointers at every rung. Each call is one turn; no turn awaits another grain.
/// Every reply names the epoch of the activation that served it, so that the batch's commit can be fenced by it
/// (ADR 0006): a write that depended on an activation that has since moved is refused.
/// </summary>
public interface IShardGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Runs a batch's bucket operations at this shard, in order: each looks up the members of its bucket whose sketch
    /// differs in at most <see cref="BucketRequest.MaxHamming"/> bits, then (if asked) adds the vector.
    /// </summary>
    Task<BucketReply> RunBucketOperationsAsync(BucketRequest request);

    /// <summary>One step up the forest of rung <paramref name="rung"/> from <paramref name="id"/> (homed here).</summary>
    Task<AscendReply> AscendAsync(long id, int rung);

    /// <summary>
    /// Migrates this shard to the silo its placement names now, if that is not the silo it is on: answered at once, the
    /// activation leaves when idle and the next one (there) takes a new epoch and loads. Returns whether it will move.
    /// </summary>
    Task<bool> MoveIfMisplacedAsync();

    /// <summary>Links root <paramref name="child"/> (homed here) under <paramref name="parent"/> at <paramref name="rung"/> if it is still a root.</summary>
    Task<LinkReply> LinkAsync(long child, long parent, int rung);
}
