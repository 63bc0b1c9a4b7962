using LshCluster.Core.Hashing;

namespace LshCluster.Storage;

/// <summary>
/// The durable state of a cluster: its scheme, one row per stored vector (with its verdict and bucket keys), the
/// verified edges, and the shard ownership epochs that fence writes. Implementations: <see cref="Sqlite.SqliteDedupStore"/>
/// (embedded) and <see cref="Postgres.PostgresDedupStore"/>; <see cref="DedupStores.Open"/> picks one from <c>--store</c>.
/// </summary>
/// <remarks>
/// Contract: <see cref="CommitAsync"/> is atomic (all of a batch or nothing) and durable when it returns;
/// it refuses, changing nothing, when any shard the batch writes for has moved past the epoch the batch carries.
/// Re-inserting an external id that is already stored is a programming error of the caller (the engine answers
/// re-sends from memory) and fails the batch. Writing an edge that is already stored changes nothing (a replay may
/// write it twice). Instants are kept to the millisecond (SQLite) or microsecond (PostgreSQL).
/// </remarks>
public interface IDedupStore : IAsyncDisposable
{
    /// <summary>A short description for logs, without secrets (no password).</summary>
    string Description { get; }

    /// <summary>
    /// Applies the pending embedded migrations in order, in one transaction. Idempotent; safe to call at every start,
    /// also from several processes at once. Must run before any other method.
    /// </summary>
    /// <exception cref="InvalidOperationException">The database has a newer schema than this build knows.</exception>
    Task MigrateAsync(CancellationToken cancellationToken = default);

    /// <summary>The scheme stored at creation, or null when the store holds no cluster yet.</summary>
    /// <exception cref="FormatException">The stored scheme is corrupted or of an unknown version.</exception>
    /// <exception cref="InvalidDataException">The stored fingerprint does not match the stored scheme.</exception>
    Task<LshScheme?> ReadSchemeAsync(CancellationToken cancellationToken = default);

    /// <summary>Stores the scheme of a new cluster and creates its <c>S</c> shard leases at epoch 0.</summary>
    /// <exception cref="InvalidOperationException">A scheme is already stored.</exception>
    Task CreateClusterAsync(LshScheme scheme, CancellationToken cancellationToken = default);

    /// <summary>
    /// Fixes the hashing of a cluster that was learning it (ADR 0009), in one transaction: replaces the stored scheme
    /// <paramref name="learning"/> by <paramref name="fixedScheme"/> (compare-and-set), takes a new epoch of every shard
    /// (so that every activation and batch of the learning scheme is fenced out), and rewrites the bucket keys of every
    /// stored vector with <paramref name="bucketKeysOf"/> (the fixed scheme's keys of its values). Commits of the learning
    /// scheme wait for it and are then refused.
    /// </summary>
    /// <returns>True if this call fixed the scheme; false if the stored scheme was no longer <paramref name="learning"/>
    /// (another silo fixed it first), changing nothing.</returns>
    /// <exception cref="ArgumentException">The schemes do not share their routing part (dimension, rungs, shards, seed), or
    /// <paramref name="learning"/> is not learning, or <paramref name="fixedScheme"/> is.</exception>
    Task<bool> FixSchemeAsync(LshScheme learning, LshScheme fixedScheme, Func<float[], ulong[]> bucketKeysOf, CancellationToken cancellationToken = default);

    /// <summary>The number of stored vectors (deleted ones are no longer stored). Counts the rows: for a learning cluster's few.</summary>
    Task<long> CountVectorsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Takes ownership of <paramref name="shards"/> for <paramref name="owner"/>: each shard's epoch is incremented
    /// (compare-and-set against the epoch read) and the new epochs returned, indexed like <paramref name="shards"/>.
    /// Writes still carrying an older epoch are refused from then on. All shards are claimed, or none.
    /// </summary>
    /// <exception cref="ArgumentException">The owner is empty or a shard is named twice.</exception>
    /// <exception cref="InvalidOperationException">A shard has no lease (no cluster, or outside 0 … S-1).</exception>
    /// <exception cref="StaleEpochException">Another owner claimed a shard between the read and the write.</exception>
    Task<long[]> ClaimShardsAsync(string owner, IReadOnlyList<int> shards, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes a batch atomically after checking its fences, in the order given: the first fence whose epoch moved is
    /// the one reported. Returns when the batch is durable.
    /// </summary>
    /// <exception cref="StaleEpochException">A shard moved to a newer epoch; nothing was written.</exception>
    /// <exception cref="ArgumentException">A shard is fenced twice, or a vector's home shard is not fenced.</exception>
    /// <exception cref="InvalidOperationException">A fenced shard has no lease.</exception>
    Task CommitAsync(WriteBatch batch, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records vector ids of a batch that was not committed as ghosts (deleted ids, ADR 0005), each unless it is stored,
    /// and the edges the batch verified, in one transaction: a concurrent batch may have committed an edge to one of them,
    /// or linked through the batch's links (a find reads links before they are committed), and as ghosts with their
    /// edges they keep those joins in the forests after a reload, as they are in memory. Idempotent.
    /// </summary>
    Task RecordGhostsAsync(IReadOnlyList<long> vectorIds, IReadOnlyList<VerifiedEdge> edges, CancellationToken cancellationToken = default);

    /// <summary>
    /// Streams every stored vector (deleted ones are no longer stored), in vector id order, reading rows as they are
    /// consumed (never the whole table at once). Rows committed while the stream runs may or may not appear.
    /// </summary>
    IAsyncEnumerable<StoredVector> ReadVectorsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Streams the ids of every deleted vector, in id order. A deleted vector keeps nothing but its id: it stays in the
    /// union-find forests (its edges are kept) so that clusters keep the merges it made.
    /// </summary>
    IAsyncEnumerable<long> ReadDeletedAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The change feed's commits after position <paramref name="afterPosition"/>, in position order, at most
    /// <paramref name="maxBatches"/> (ADR 0011). Positions are dense and in commit order: a row below one read never
    /// appears later.
    /// </summary>
    Task<IReadOnlyList<FeedBatch>> ReadFeedAsync(long afterPosition, int maxBatches, CancellationToken cancellationToken = default);

    /// <summary>The oldest position the feed still holds (its retention deletes older rows), or the next one to be written when it holds none.</summary>
    Task<long> FeedStartAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes the feed's rows committed before <paramref name="before"/>; returns how many.</summary>
    Task<long> PruneFeedAsync(DateTimeOffset before, CancellationToken cancellationToken = default);

    /// <summary>Streams every verified edge, ordered by (A, B).</summary>
    IAsyncEnumerable<VerifiedEdge> ReadEdgesAsync(CancellationToken cancellationToken = default);

    /// <summary>Streams the ids of the stored (not deleted) vectors, in id order: eight bytes a vector.</summary>
    IAsyncEnumerable<long> ReadVectorIdsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Streams the stored (not deleted) vectors whose home is <paramref name="shard"/>, in id order: what that shard's
    /// activation loads as its home records, reading only its own rows.
    /// </summary>
    IAsyncEnumerable<StoredVector> ReadHomeVectorsAsync(int shard, CancellationToken cancellationToken = default);

    /// <summary>
    /// Streams the bucket entries held by <paramref name="shard"/>, in commit order: one per committed vector and table
    /// whose bucket lives on the shard (deleted vectors' entries may be included; their homes no longer match them).
    /// PostgreSQL reads them from the shard's bucket log; SQLite, whose one process loads all shards together, from the
    /// vectors.
    /// </summary>
    IAsyncEnumerable<BucketEntry> ReadBucketEntriesAsync(int shard, CancellationToken cancellationToken = default);
}
