using Orleans.Concurrency;

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
    /// Registers new vectors homed here (their ids are given here), or finds them registered already — by an earlier
    /// request, perhaps still in flight, or earlier in the same request.
    /// </summary>
    Task<RegisterReply> RegisterAsync(RegisterRequest request);

    /// <summary>
    /// Waits until the inserts of these vectors (packed 64-bit ids) are acknowledged or have failed. Interleaves with
    /// other calls: it only waits for turns that others run.
    /// </summary>
    [AlwaysInterleave]
    Task<VerdictsReply> WaitVerdictsAsync(byte[] ids);

    /// <summary>Records the durable verdicts of vectors registered here (packed (id, verdict) pairs) and releases their waiters.</summary>
    Task AcknowledgeAsync(byte[] verdicts);

    /// <summary>Forgets vectors registered here whose insert failed before its commit; their waiters get <paramref name="reason"/>.</summary>
    Task ForgetAsync(byte[] ids, string reason);

    /// <summary>Exact cosines between new vectors and the candidates homed here; edges at or above the lowest rung.</summary>
    Task<VerifyReply> VerifyAsync(VerifyRequest request);

    /// <summary>The records of these ids (packed 64-bit) homed here, null for those not stored.</summary>
    Task<ShardRecord?[]> LookupAsync(byte[] ids, bool withValues);

    /// <summary>The record of the vector with this external id homed here, or null.</summary>
    Task<ShardRecord?> LookupExternalAsync(string externalId, bool withValues);

    /// <summary>The parent pointers of rung <paramref name="rung"/> and the deleted ids homed here.</summary>
    Task<ForestReply> ParentsAsync(int rung);

    /// <summary>The vectors homed here and how many are duplicates.</summary>
    Task<CountsReply> CountsAsync();

    /// <summary>Every vector homed here, by id and external id.</summary>
    Task<NamesReply> NamesAsync();

    /// <summary>Marks vectors for deletion by external id (no longer matched); each outcome says what happened.</summary>
    Task<BeginDeleteReply> BeginDeleteAsync(string[] externalIds);

    /// <summary>Ends deletions begun here (packed 64-bit ids): forgets the vectors once durable, or unmarks them.</summary>
    Task EndDeleteAsync(byte[] ids, bool committed);

    /// <summary>Waits until nothing is in flight for these vectors (packed 64-bit ids). Interleaves, as <see cref="WaitVerdictsAsync"/>.</summary>
    [AlwaysInterleave]
    Task WaitSettledAsync(byte[] ids);

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

    /// <summary>
    /// Ends this activation once idle, so that the next call activates the shard afresh from what the store holds (after
    /// a commit whose outcome is unknown left this memory possibly ahead of the store).
    /// </summary>
    Task ReloadAsync();

    /// <summary>
    /// Links root <paramref name="child"/> (homed here) under <paramref name="parent"/> at <paramref name="rung"/> if it is
    /// still a root, and then hands over its cluster's members.
    /// </summary>
    Task<LinkReply> LinkAsync(long child, long parent, int rung);

    /// <summary>
    /// Adds to the clusters of roots homed here the members (and tombstones) a link took from the roots it linked under
    /// them; a root that is no longer one is named in the reply, and gets nothing.
    /// </summary>
    Task<ClusterChangeReply> AbsorbAsync(int rung, IdLists members, IdLists tombstones);

    /// <summary>Removes deleted members from the clusters of roots homed here (packed (root, member) 64-bit pairs).</summary>
    Task<ClusterChangeReply> RemoveMembersAsync(int rung, byte[] pairs);

    /// <summary>
    /// Members <paramref name="skip"/> … of the cluster whose root is <paramref name="root"/>, after id
    /// <paramref name="after"/>, at most <paramref name="take"/>; and up to <paramref name="sample"/> members spread over it.
    /// </summary>
    Task<ClusterPageReply> ClusterAsync(long root, int rung, long after, int skip, int take, int sample);

    /// <summary>The exact cosine of each of these ids (packed 64-bit, homed here) to <paramref name="to"/> (packed floats); NaN for one not stored.</summary>
    Task<byte[]> CosinesAsync(byte[] to, byte[] ids);

    /// <summary>Every cluster of two or more members rooted here, with its members (an export).</summary>
    Task<IdLists> ClustersAsync(int rung);
}
