using LshCluster.Abstractions.Shards;
using LshCluster.Grains.Shards;
using LshCluster.Storage;

namespace LshCluster.Silo.Engine;

/// <summary>A home record as the engine sees it (a copy: the record itself stays at its home shard).</summary>
internal sealed record RecordView(long Id, string ExternalId, float[]? Values, float SquaredNorm, bool Acknowledged, StoredVerdict Verdict);

/// <summary>
/// Every call the engine makes to a shard (<see cref="GrainShardCalls"/>: to the shard grains wherever they are active;
/// what only reads a shard active in this process, read in place). Calls for one shard carry a batch of that shard's
/// work; replies that a commit depends on name the serving activation's epoch.
/// </summary>
internal interface IShardCalls
{
    /// <summary>S.</summary>
    int ShardCount { get; }

    /// <summary>Registers hashed items at their home <paramref name="shard"/> (subject to admission by <paramref name="deadline"/>).</summary>
    Task<Registered> RegisterAsync(int shard, IReadOnlyList<HashedItem> items, DateTimeOffset deadline);

    /// <summary>Waits for the verdicts of vectors registered at <paramref name="shard"/>; a failed insert gives its reason instead.</summary>
    Task<(StoredVerdict Verdict, string? Failure)[]> WaitVerdictsAsync(int shard, long[] ids, CancellationToken cancellationToken);

    /// <summary>Records durable verdicts at the home shard (after the commit) and releases their waiters.</summary>
    Task AcknowledgeAsync(int shard, VerdictOf[] verdicts);

    /// <summary>Forgets vectors whose insert failed before its commit; their waiters learn <paramref name="reason"/>.</summary>
    Task ForgetAsync(int shard, long[] ids, Exception reason);

    /// <returns>The serving activation's epoch (0 when not known) and the candidates found, in a pooled list the caller returns.</returns>
    Task<(long Epoch, PooledList<Candidate> Found)> BucketOperationsAsync(int shard, ArraySegment<BucketOperation> operations, int maxHamming, bool admission, DateTimeOffset deadline);

    /// <summary>Bucket lookups that insert nothing (a near-duplicate query), grouped by shard.</summary>
    /// <returns>Per group, the candidates found, in a pooled list the caller returns.</returns>
    Task<PooledList<Candidate>[]> LookUpBucketsAsync(IReadOnlyList<(int Shard, List<BucketOperation> Lookups)> byShard, int maxHamming, DateTimeOffset deadline);

    /// <summary>
    /// Exact-cosine checks at many shards (each run holds the checks of one home shard), in no particular order. Returns
    /// (or throws) only once every message that views the runs' arrays is done: the caller may reuse them then.
    /// </summary>
    Task<List<FoundEdge>> VerifyAllAsync(IEnumerable<(int Shard, ArraySegment<Verification> Checks)> byShard, float lowestRung, float screen, bool admission, DateTimeOffset deadline);

    /// <summary>
    /// The root of <paramref name="id"/> (homed at <paramref name="shard"/>) at rung <paramref name="rung"/> if it is
    /// reached on that shard (IsRoot), else the first ancestor homed elsewhere, where the find continues.
    /// </summary>
    ValueTask<(long Node, bool IsRoot)> AscendAsync(int shard, long id, int rung, DateTimeOffset deadline);

    /// <summary>
    /// Compare-and-set link of root <paramref name="child"/> under <paramref name="parent"/>; Moved is null if it is no
    /// longer a root, else its cluster's members, for <paramref name="parent"/>'s home (<see cref="AbsorbAsync"/>). Epoch:
    /// the serving activation's (0 when not known).
    /// </summary>
    Task<(long Epoch, MemberTransfer? Moved)> LinkAsync(int shard, long child, long parent, int rung, DateTimeOffset deadline);

    /// <summary>
    /// Adds members taken by links to the clusters of roots homed at <paramref name="shard"/>. Returns the epoch and the
    /// indexes of the transfers whose root is a root no more (nothing done for them).
    /// </summary>
    Task<(long Epoch, int[] Moved)> AbsorbAsync(int shard, int rung, IReadOnlyList<(long Root, MemberTransfer Members)> transfers);

    /// <summary>Removes deleted members from the clusters of roots homed at <paramref name="shard"/>; returns the indexes of the roots that are roots no more.</summary>
    Task<int[]> RemoveMembersAsync(int shard, int rung, IReadOnlyList<(long Root, long Member)> removals);

    /// <summary>A page of the cluster rooted at <paramref name="root"/>, and a sample (see <see cref="IShardGrain.ClusterAsync"/>): null when it is not a root.</summary>
    Task<ClusterPage?> ClusterPageAsync(long root, int rung, long after, int skip, int take, int sample = 0);

    /// <summary>
    /// The <paramref name="count"/> largest clusters of at least <paramref name="minSize"/> members, largest first (ties:
    /// older first), from every silo's board.
    /// </summary>
    Task<List<LargestCluster>> LargestClustersAsync(int rung, int count, int minSize);

    /// <summary>Every acknowledged vector at cosine ≥ <paramref name="threshold"/> to <paramref name="vector"/>, by exact comparison at every silo (a recall sample).</summary>
    Task<List<(long Id, float Cosine)>> NeighboursAsync(float[] vector, float threshold);

    /// <summary>Vectors, duplicates, and per rung (0 … <paramref name="rungs"/> − 1) the clusters: every silo's counters, no scan.</summary>
    Task<ClusterCounters> CountersAsync(int rungs);

    /// <summary>The exact cosine of each of <paramref name="ids"/> (homed at <paramref name="shard"/>) to <paramref name="to"/>; NaN for one not stored.</summary>
    Task<float[]> CosinesAsync(int shard, float[] to, float toSquaredNorm, long[] ids);

    /// <summary>Every cluster of two or more members rooted at <paramref name="shard"/>, with its members in id order.</summary>
    Task<(long Root, long[] Members)[]> ClustersAsync(int shard, int rung);

    /// <summary>The records of ids homed at <paramref name="shard"/> (null for those not stored).</summary>
    Task<RecordView?[]> LookupAsync(int shard, IReadOnlyList<long> ids, bool withValues, DateTimeOffset deadline, bool admission = true);

    /// <summary>The record of an external id homed at <paramref name="shard"/>, or null.</summary>
    Task<RecordView?> LookupExternalAsync(int shard, string externalId, bool withValues, DateTimeOffset deadline);

    /// <summary>Every vector homed at a shard, by id and external id.</summary>
    Task<(long Id, string ExternalId)[]> NamesAsync(int shard, DateTimeOffset deadline);

    /// <summary>Marks vectors for deletion at their home.</summary>
    Task<(long Epoch, DeleteOutcome[] Outcomes)> BeginDeleteAsync(int shard, IReadOnlyList<string> externalIds);

    /// <summary>Ends deletions begun at <paramref name="shard"/>: forgets the vectors once durable, else unmarks them.</summary>
    Task EndDeleteAsync(int shard, long[] ids, bool committed);

    /// <summary>Has the shard's activation reload from the store (a coordinator's commit of unknown outcome changed it).</summary>
    Task ReloadAsync(int shard);

    /// <summary>Completes once nothing is in flight for these vectors at their home (insert or delete).</summary>
    Task WaitSettledAsync(int shard, long[] ids, CancellationToken cancellationToken);
}

/// <summary>What registering at a home shard found: the activation's epoch and each item's registration.</summary>
internal sealed record Registered(long Epoch, RegisteredItem[] Items);
