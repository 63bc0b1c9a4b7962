using LshCluster.Abstractions.Shards;
using LshCluster.Core.Hashing;
using LshCluster.Core.Ids;
using LshCluster.Core.Kernels;
using LshCluster.Core.Vectors;
using LshCluster.Grains.Shards;
using LshCluster.Silo.Diagnostics;
using LshCluster.Storage;

namespace LshCluster.Silo.Engine;

/// <summary>
/// The dedup engine: drives each batch over <c>S</c> shard grains (ADR 0006) — in the embedded engine every grain in an
/// in-process silo, on a silo of a cluster the grains wherever Orleans has them active — through the insert pipeline
/// of DESIGN.md section 4: register at the home shard, bucket lookups and inserts at the bucket shards
/// (sketch-filtered), exact cosine at the candidates' homes, union-find links by compare-and-set at the roots' homes,
/// then one group commit; a request is answered only after its writes are durable.
/// </summary>
public sealed partial class DedupEngine : IAsyncDisposable
{
    // The candidates of a batch grouped by item (CandidatesByItem), megabytes each: kept for reuse, not large objects
    // allocated per batch (ArrayPool.Shared allocated most of them afresh under load).
    private static readonly System.Buffers.ArrayPool<long> CandidateBuffers = System.Buffers.ArrayPool<long>.Create(1 << 24, 8);

    private readonly IDedupStore _store;
    private readonly DedupEngineOptions _options;
    private volatile Hashing _hashing;
    private readonly IShardCalls _shards;

    // The embedded engine's own silo (null on a silo of a cluster).
    private readonly EmbeddedSilo? _silo;

    // A coordinator on a silo of an Orleans cluster: its shards are grains anywhere in the cluster, which move.
    private readonly bool _coordinator;
    private readonly Grains.Placement.LocalShards _local;
    private readonly GroupCommitter _committer;
    private readonly float[] _rungs;
    private readonly int _maxHamming;
    private readonly float _screen;
    private volatile Exception? _fault;
    private int _batchesInFlight;
    private int _vectorsInFlight;
    private long _bucketCandidates;
    private long _checkedCandidates;
    private readonly RecallSampler _recall;
    private readonly Task _feedRetention;

    private DedupEngine(IDedupStore store, LshScheme scheme, DedupEngineOptions options, EmbeddedSilo? silo,
        IGrainFactory? clusterGrains = null, Grains.Placement.LocalShards? clusterLocal = null, Func<Task<SiloAddress[]>>? clusterOwners = null)
    {
        _store = store;
        _options = options;
        _hashing = new Hashing(scheme, new LshHasher(scheme));
        if (!scheme.IsLearning)
        {
            _learned.TrySetResult();
        }

        _silo = silo;
        _coordinator = clusterGrains is not null;
        _local = clusterLocal ?? silo!.Local;
        _shards = new GrainShardCalls(clusterGrains ?? silo!.Grains, _local, scheme.ShardCount, clusterOwners);
        _rungs = [.. scheme.Rungs];
        _maxHamming = Sketch128.MaxHamming(scheme.LowestRung);
        _screen = ProjectionScreen(scheme.LowestRung, _hashing.Hasher.ProjectionLength); // the projection depends on d and the seed alone
        _committer = new GroupCommitter(store, options.GroupCommitMaxVectors, failStop: !_coordinator);
        _feedRetention = Task.Run(PruneFeedAsync);
        _recall = new RecallSampler(_rungs, options, (vector, threshold) => _shards.NeighboursAsync(vector, threshold), (id, rung) => FindAsync(id, rung, Deadline()));
        LshClusterMetrics.Register(this, () => Volatile.Read(ref _vectorsInFlight), () => LocalShards.Count, SampledRecallMeasurements);
    }

    /// <summary>Completes once the recall samples taken so far are checked (for tests).</summary>
    internal Task RecallSamplesCheckedAsync() => _recall.DrainAsync();

    private IEnumerable<System.Diagnostics.Metrics.Measurement<double>> SampledRecallMeasurements()
    {
        for (var r = 0; r < _rungs.Length; r++)
        {
            if (_recall.Estimate(r) is { } estimate)
            {
                yield return new(estimate.Estimate, new KeyValuePair<string, object?>("rung", _rungs[r].ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }
        }
    }

    /// <summary>The cluster's scheme: while it is learning, until the fixed one replaces it (<see cref="Learned"/>).</summary>
    public LshScheme Scheme => _hashing.Scheme;

    /// <summary>The rungs, highest first.</summary>
    public IReadOnlyList<float> Rungs => _rungs;

    /// <summary>The store, described without secrets.</summary>
    public string StoreDescription => _store.Description;

    /// <summary>The most vectors one insert batch may hold.</summary>
    public int MaxBatchSize => _options.MaxBatchSize;

    /// <summary>Storage transactions committed since start.</summary>
    public long Commits => _committer.Commits;

    /// <summary>Insert batches under way.</summary>
    public int BatchesInFlight => Volatile.Read(ref _batchesInFlight);

    /// <summary>Bucket entries of other vectors that passed the sketch filter, summed over the inserts' tables, since start.</summary>
    public long BucketCandidates => Interlocked.Read(ref _bucketCandidates);

    /// <summary>Distinct candidates whose exact cosine the inserts computed since start.</summary>
    public long CheckedCandidates => Interlocked.Read(ref _checkedCandidates);

    /// <summary>Why the engine stopped taking work, or null while it runs.</summary>
    public Exception? Fault => _fault;

    /// <summary>The shards active in this process.</summary>
    public IReadOnlyList<int> LocalShards => [.. _local.Snapshot().Order()];

    /// <summary>
    /// Opens the cluster stored in <paramref name="store"/> as one process (embedded): migrates, reads the scheme,
    /// claims every shard (a new epoch fences out any previous owner), loads vectors, bucket entries and the union-find
    /// forests (replaying every stored edge; union is idempotent) in one pass, and starts an in-process Orleans silo
    /// whose shard grains take the loaded shards.
    /// </summary>
    /// <exception cref="InvalidOperationException">The store holds no cluster (create one first).</exception>
    public static async Task<DedupEngine> OpenAsync(IDedupStore store, DedupEngineOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new DedupEngineOptions();
        var scheme = await ReadSchemeAsync(store, options, cancellationToken).ConfigureAwait(false);
        var all = Enumerable.Range(0, scheme.ShardCount).ToArray();
        var directory = new VectorDirectory();
        var shards = await ClaimAndLoadAllAsync(store, scheme, options, directory, cancellationToken).ConfigureAwait(false);

        // The load read every row once and kept a fraction of what it allocated: give the rest back to the system now,
        // once, rather than keep it resident for the life of the process.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var silo = await EmbeddedSilo.StartAsync(store, shards, directory, options.Time, cancellationToken).ConfigureAwait(false);
        try
        {
            // Every grain activated now, taking its loaded shard, rather than on the first request to reach it.
            await Task.WhenAll(all.Select(s => silo.Grains.GetGrain<IShardGrain>(s).CountsAsync())).ConfigureAwait(false);
        }
        catch
        {
            await silo.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new DedupEngine(store, scheme, options, silo);
    }

    /// <summary>
    /// Every shard of <paramref name="scheme"/> claimed for <paramref name="options"/>' owner (a new epoch fences out any
    /// previous one) and loaded in one pass over the store, its buckets naming their members in <paramref name="directory"/>.
    /// </summary>
    private static async Task<Shard?[]> ClaimAndLoadAllAsync(IDedupStore store, LshScheme scheme, DedupEngineOptions options, VectorDirectory directory,
        CancellationToken cancellationToken)
    {
        var all = Enumerable.Range(0, scheme.ShardCount).ToArray();
        var epochs = await store.ClaimShardsAsync(options.Owner, all, cancellationToken).ConfigureAwait(false);
        var shards = new Shard?[scheme.ShardCount];
        foreach (var s in all)
        {
            shards[s] = new Shard(s, scheme.Rungs.Count, options.Time, directory) { Epoch = epochs[s] };
        }

        await ShardLoader.LoadAsync(store, scheme, shards, long.MaxValue, cancellationToken).ConfigureAwait(false);
        return shards;
    }

    /// <summary>
    /// Opens the coordinator of one silo of an Orleans cluster: it validates, hashes and drives the insert pipeline over
    /// the shard grains wherever they are active (<paramref name="grains"/>), and commits through its own group
    /// committer. <paramref name="local"/> tells which shard grains this silo hosts, <paramref name="owners"/> where
    /// placement puts each shard now.
    /// </summary>
    internal static async Task<DedupEngine> OpenCoordinatorAsync(IDedupStore store, DedupEngineOptions options, IGrainFactory grains, Grains.Placement.LocalShards local,
        Func<Task<SiloAddress[]>> owners, CancellationToken cancellationToken) =>
        new(store, await ReadSchemeAsync(store, options, cancellationToken).ConfigureAwait(false), options, null, grains, local, owners);

    private static async Task<LshScheme> ReadSchemeAsync(IDedupStore store, DedupEngineOptions options, CancellationToken cancellationToken)
    {
        options.Validate();
        await store.MigrateAsync(cancellationToken).ConfigureAwait(false);
        return await store.ReadSchemeAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"{store.Description} holds no cluster yet; create one first (lshc create)");
    }

    /// <summary>Creates a new cluster with <paramref name="scheme"/> in <paramref name="store"/>.</summary>
    public static async Task CreateAsync(IDedupStore store, LshScheme scheme, CancellationToken cancellationToken = default)
    {
        await store.MigrateAsync(cancellationToken).ConfigureAwait(false);
        await store.CreateClusterAsync(scheme, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Inserts one vector.</summary>
    public async Task<InsertResult> InsertAsync(VectorInput item, CancellationToken cancellationToken = default) =>
        (await InsertAsync([item], cancellationToken).ConfigureAwait(false))[0];

    /// <summary>
    /// Inserts a batch. Each item gets a verdict or an error naming the field and the reason; valid items go in even
    /// when others are refused, and nothing is stored for a refused item. Returns once every stored verdict is
    /// durable. An external id sent before gets its original verdict (<see cref="Verdict.Repeated"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The batch is larger than <see cref="DedupEngineOptions.MaxBatchSize"/>.</exception>
    /// <exception cref="OverloadedException">Too many vectors are under way (<see cref="DedupEngineOptions.MaxVectorsInFlight"/>); nothing of the batch was stored.</exception>
    /// <exception cref="EngineStoppedException">The store refused a write; the engine takes no more work until restarted.</exception>
    public async Task<IReadOnlyList<InsertResult>> InsertAsync(IReadOnlyList<VectorInput> items, CancellationToken cancellationToken = default)
    {
        ThrowIfFaulted();
        if (items.Count > _options.MaxBatchSize)
        {
            throw new ArgumentException($"items: a batch holds at most {_options.MaxBatchSize} vectors; got {items.Count}. Split it.", nameof(items));
        }

        var deadline = _options.Time.GetUtcNow() + _options.RequestTimeout;
        var results = new InsertResult?[items.Count];
        var valid = new List<int>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            var error = Validate(items[i], i);
            if (error is null)
            {
                valid.Add(i);
            }
            else
            {
                results[i] = new InsertResult(i, null, error);
            }
        }

        using var admitted = Admit(valid.Count);
        using var pass = await EnterAsync(cancellationToken).ConfigureAwait(false);
        var hashing = await CurrentHashingAsync(cancellationToken).ConfigureAwait(false);
        if (hashing.Scheme.IsLearning)
        {
            CountAdmitted(valid.Count);
        }

        // Hash every valid vector (the CPU-heavy part, so in parallel): bucket keys, probes, sketch, squared norm.
        var hashed = new HashedItem[valid.Count];
        Parallel.For(0, valid.Count, new ParallelOptions { CancellationToken = cancellationToken }, j =>
        {
            var item = items[valid[j]];
            hashed[j] = Hash(hashing, valid[j], item.ExternalId, item.Values);
        });

        foreach (var result in await RouteInsertAsync(hashed, hashing, deadline, cancellationToken).ConfigureAwait(false))
        {
            results[result.Index] = result;
        }

        LshClusterMetrics.RecordRefusals(results!);
        return results!;
    }

    /// <summary>
    /// Counts a batch of <paramref name="vectors"/> in until it is disposed; refuses it when it would take the vectors
    /// under way past <see cref="DedupEngineOptions.MaxVectorsInFlight"/> and others are under way.
    /// </summary>
    /// <exception cref="OverloadedException">Too much under way; nothing of this batch was started.</exception>
    internal BatchAdmission Admit(int vectors)
    {
        var total = Interlocked.Add(ref _vectorsInFlight, vectors);
        if (total > _options.MaxVectorsInFlight && total > vectors)
        {
            Interlocked.Add(ref _vectorsInFlight, -vectors);
            throw new OverloadedException($"this server is carrying {total - vectors:N0} vectors of other insert batches (at most {_options.MaxVectorsInFlight:N0}); nothing of this batch was stored, retry later");
        }

        Interlocked.Increment(ref _batchesInFlight);
        return new BatchAdmission(this, vectors);
    }

    /// <summary>A batch counted in by <see cref="Admit"/>.</summary>
    internal readonly struct BatchAdmission(DedupEngine engine, int vectors) : IDisposable
    {
        public void Dispose()
        {
            Interlocked.Decrement(ref engine._batchesInFlight);
            Interlocked.Add(ref engine._vectorsInFlight, -vectors);
        }
    }

    /// <summary>Hashes one validated vector with <paramref name="hashing"/>: bucket keys, probes, sketch and projection, squared norm.</summary>
    private static HashedItem Hash(Hashing hashing, int index, string externalId, float[] values)
    {
        var (scheme, hasher) = hashing;
        var tables = scheme.Tables;
        var probes = scheme.Probes;
        var keys = new ulong[tables];
        var probeKeys = probes > 1 ? new ulong[tables * probes] : [];
        hasher.Hash(values, keys, default, probeKeys);
        var projection = new float[hasher.ProjectionLength];
        var sketch = hasher.ComputeSketch(values, projection);
        return new HashedItem(index, externalId, values, keys, probeKeys, sketch, projection, VectorMath.SquaredNorm(values));
    }

    /// <summary>
    /// Inserts hashed items: on a coordinator, resending the batch while its shards move or a silo dies (see
    /// <see cref="CoordinateInsertAsync"/>); in the embedded engine, once.
    /// </summary>
    internal Task<List<InsertResult>> RouteInsertAsync(IReadOnlyList<HashedItem> items, Hashing hashedWith, DateTimeOffset deadline, CancellationToken cancellationToken) =>
        _coordinator ? CoordinateInsertAsync(items, hashedWith, deadline, cancellationToken) : InsertAtHomeAsync(items, hashedWith.Scheme, deadline, cancellationToken);

    /// <summary>
    /// A coordinator's insert: the whole batch through the pipeline. A batch that failed because a shard moved or a silo
    /// died — nothing of it acknowledged, its shards told — goes again after a pause (resending is idempotent by
    /// external id), until the deadline; hashed again first if the cluster fixed its learned scheme meanwhile.
    /// </summary>
    private async Task<List<InsertResult>> CoordinateInsertAsync(IReadOnlyList<HashedItem> items, Hashing hashedWith, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        var backoff = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            try
            {
                if (_hashing != hashedWith)
                {
                    hashedWith = _hashing;
                    items = Rehash(items, hashedWith);
                }

                return await InsertAtHomeAsync(items, hashedWith.Scheme, deadline, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsSchemeChanged(e) && _options.Time.GetUtcNow() < deadline)
            {
                await ReadStoredSchemeAsync(cancellationToken).ConfigureAwait(false); // resent at once, hashed with the fixed scheme
            }
            catch (Exception e) when (IsTransient(e) && _options.Time.GetUtcNow() + backoff < deadline)
            {
                await Task.Delay(backoff, _options.Time, cancellationToken).ConfigureAwait(false);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromMilliseconds(500).Ticks));
            }
            catch (Exception e) when (IsTransient(e) && e is not ShardUnavailableException)
            {
                throw new ShardUnavailableException($"a shard could not be reached before the deadline ({e.Message}); nothing of this batch was acknowledged, send it again", e);
            }
        }
    }

    /// <summary>Failures of a grain call or a commit that a resend may not meet: a shard moved, a silo died, the database blinked.</summary>
    private static bool IsTransient(Exception e) => e is ShardUnavailableException or ShardActivationException or SchemeChangedException or SiloUnavailableException or OrleansMessageRejectionException
        or TimeoutException or System.Data.Common.DbException or IOException or System.Net.Sockets.SocketException;

    /// <summary>
    /// The insert pipeline: register, buckets, verification, unions, one group commit. Results carry each item's
    /// <c>Index</c>.
    /// </summary>
    internal async Task<List<InsertResult>> InsertAtHomeAsync(IReadOnlyList<HashedItem> items, LshScheme hashedWith, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        var results = await InsertAtHomeCoreAsync(items, hashedWith, deadline, cancellationToken).ConfigureAwait(false);
        LshClusterMetrics.RecordVerdicts(results);
        if (hashedWith.IsLearning)
        {
            LearnWhenReady();
        }

        return results;
    }

    private async Task<List<InsertResult>> InsertAtHomeCoreAsync(IReadOnlyList<HashedItem> items, LshScheme scheme, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        ThrowIfFaulted();

        // 1. Register at the home shards (subject to admission: a refusal here leaves nothing behind).
        var registered = new RegisteredItem[items.Count];
        var served = new bool[items.Count]; // which items were registered, should a shard refuse part-way
        var fences = new FenceSet(homesOnly: !_coordinator);
        try
        {
            await ForEachShard(items.Count, j => Scheme.HomeShard(items[j].ExternalId), async (shard, js) =>
            {
                var reply = await _shards.RegisterAsync(shard, [.. js.Select(j => items[j])], deadline).ConfigureAwait(false);

                fences.AddHome(shard, reply.Epoch);
                lock (registered)
                {
                    for (var n = 0; n < js.Count; n++)
                    {
                        registered[js[n]] = reply.Items[n];
                        served[js[n]] = true;
                    }
                }
            }).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // A shard refused (overloaded) after others registered their part: take those back so that nothing of
            // the batch stays half-registered, then report the refusal.
            await ForgetAsync(registered, [.. Enumerable.Range(0, items.Count).Where(j => served[j] && registered[j].IsNew)], e).ConfigureAwait(false);
            throw;
        }

        var fresh = Enumerable.Range(0, items.Count).Where(j => registered[j].IsNew).ToList();
        var verified = new List<VerifiedEdge>(); // the batch's edges once linked: a failed batch records them with its ghosts
        StoredVerdict[] verdicts;
        try
        {
            // Once its bucket entries may be visible to other requests, a batch is carried through to its commit: no
            // deadline or cancellation stops it half-way (DESIGN.md section 6 applies the deadline to the request's
            // admission, its registration).
            verdicts = await InsertNewAsync(items, scheme, fresh, registered, fences, verified).ConfigureAwait(false);
        }
        catch (ShardUnavailableException e) when (e.Settled)
        {
            throw; // a failed commit, already answered for at the shards
        }
        catch (Exception e)
        {
            // A failed commit has stopped the engine already (the committer refuses everything after a failure; a
            // restart reloads). Any other failure fails only this batch in a cluster — a peer that could not be
            // reached, or refused — and its producer resends; the embedded engine stops, as it has no peers to blame.
            if (_silo is not null)
            {
                _fault ??= e;
                await ForgetAsync(registered, fresh, e).ConfigureAwait(false);
            }
            else
            {
                await AbandonAsync(registered, fresh, fences, verified, e).ConfigureAwait(false);
            }

            throw;
        }

        // Repeats (and ids sent twice in this batch) answer with the verdict of the first insert once it is durable.
        var waited = new Dictionary<int, (StoredVerdict Verdict, string? Failure)>();
        var pending = Enumerable.Range(0, items.Count).Where(j => !registered[j].IsNew && !registered[j].Acknowledged).ToList();
        await ForEachShard(pending.Count, k => VectorId.HomeShard(registered[pending[k]].Id), async (shard, ks) =>
        {
            var found = await _shards.WaitVerdictsAsync(shard, [.. ks.Select(k => registered[pending[k]].Id)], cancellationToken).ConfigureAwait(false);
            lock (waited)
            {
                for (var n = 0; n < ks.Count; n++)
                {
                    waited[pending[ks[n]]] = found[n];
                }
            }
        }).ConfigureAwait(false);

        // Describing a duplicate looks up two external ids at their homes: all items at once, not one after another.
        return [.. await Task.WhenAll(Enumerable.Range(0, items.Count).Select(async j =>
        {
            var i = items[j].Index;
            var r = registered[j];
            var stored = r.IsNew ? verdicts[j] : r.Acknowledged ? r.Verdict : waited[j].Verdict;
            if (waited.GetValueOrDefault(j).Failure is { } failure)
            {
                // The request that first sent this id failed (or its home moved while this one waited for it); this
                // batch's own items are unaffected. Sent again, the id gets the stored verdict or is stored once.
                return new InsertResult(i, null, new ItemError($"items[{i}].id", "retry",
                    $"items[{i}].id: an earlier request with this id did not finish here ({failure}); send it again, it is stored at most once"));
            }

            return new InsertResult(i, await DescribeAsync(items[j].ExternalId, r.Id, stored, repeated: !r.IsNew).ConfigureAwait(false), null);
        })).ConfigureAwait(false)];
    }

    /// <summary>Buckets, verification, unions, the commit and the acknowledgement of the new items; returns their verdicts by item.</summary>
    private async Task<StoredVerdict[]> InsertNewAsync(IReadOnlyList<HashedItem> items, LshScheme scheme, List<int> fresh, RegisteredItem[] registered, FenceSet fences,
        List<VerifiedEdge> verified)
    {
        var deadline = DateTimeOffset.MaxValue;
        var verdicts = new StoredVerdict[items.Count];
        if (fresh.Count == 0)
        {
            return verdicts;
        }

        // 2. Bucket lookups then inserts, grouped by bucket shard, in batch order within each shard.
        var tables = scheme.Tables;
        var probes = scheme.Probes;
        var operationCount = fresh.Count * (probes > 1 ? tables * (probes + 1) : tables);
        var operations = new PooledList<BucketOperation>(operationCount);
        var bucketShards = new PooledList<int>(operationCount);
        foreach (var j in fresh)
        {
            var id = registered[j].Id;
            var item = items[j];
            var sketch = item.Sketch;
            for (var t = 0; t < tables; t++)
            {
                var key = item.Keys[t];
                if (probes > 1)
                {
                    for (var p = 0; p < probes; p++)
                    {
                        var probe = item.ProbeKeys[(t * probes) + p];
                        bucketShards.Add(scheme.ShardOfBucket(t, probe));
                        operations.Add(new BucketOperation(j, id, probe, sketch.Low, sketch.High, Lookup: true, Insert: false));
                    }

                    bucketShards.Add(scheme.ShardOfBucket(t, key));
                    operations.Add(new BucketOperation(j, id, key, sketch.Low, sketch.High, Lookup: false, Insert: true));
                }
                else
                {
                    // Look up, then join, the same bucket: one operation (half the messages between silos).
                    bucketShards.Add(scheme.ShardOfBucket(t, key));
                    operations.Add(new BucketOperation(j, id, key, sketch.Low, sketch.High, Lookup: true, Insert: true));
                }
            }
        }

        var (byBucketShard, bucketStarts) = ShardGroups.Sort(operations, bucketShards, _shards.ShardCount);
        operations.Return();
        bucketShards.Return();
        var gathered = await Task.WhenAll(ShardGroups.Runs(byBucketShard, bucketStarts).Select(async run =>
        {
            var (epoch, found) = await _shards.BucketOperationsAsync(run.Shard, run.Run, _maxHamming, admission: false, deadline).ConfigureAwait(false);
            fences.AddChanged(run.Shard, epoch);
            return found;
        })).ConfigureAwait(false);
        byBucketShard.Return();

        // 3. Exact cosine at the candidates' homes, once per distinct candidate of each vector (a near-duplicate shares
        // many of its buckets, so it comes back from many tables).
        var byItem = CandidatesByItem(gathered, items.Count, out var starts);
        List<FoundEdge> found;
        try
        {
            var queries = fresh.Select(j => new VerifyQuery(j, registered[j].Id, items[j].Values, items[j].SquaredNorm, items[j].Projection,
                VectorMath.SquaredNorm(items[j].Projection))).ToList();
            found = await VerifyCandidatesAsync(queries, byItem, starts, scheme.LowestRung, _screen, admission: false, deadline).ConfigureAwait(false);
        }
        finally
        {
            CandidateBuffers.Return(byItem);
        }

        Interlocked.Add(ref _bucketCandidates, starts[items.Count]);
        LshClusterMetrics.Candidates.Add(starts[items.Count], new KeyValuePair<string, object?>("stage", "bucket"));
        var edgesOf = new List<FoundEdge>?[items.Count];
        var edges = new List<VerifiedEdge>();
        foreach (var e in found)
        {
            (edgesOf[e.Item] ??= []).Add(e);
            edges.Add(new VerifiedEdge(Math.Min(e.VectorId, e.OtherId), Math.Max(e.VectorId, e.OtherId), e.Cosine));
        }

        // 4. Union at every rung each edge reaches — only the edges of a spanning forest of this batch's edges, since
        // the others join vectors already joined — then each vector's verdict from its best match.
        var unions = SpanningEdges(edges);
        var events = new List<FeedEvent>();
        var components = await UnionAllAsync(unions, deadline, fences, events).ConfigureAwait(false);

        // Linked in memory now, where other batches' finds may read them: should this batch fail from here on, its edges
        // are recorded with its ghosts, so that those links are backed by the store (a batch failing earlier records none).
        verified.AddRange(edges);
        await Task.WhenAll(fresh.Select(async j =>
        {
            if (edgesOf[j] is not { } mine)
            {
                verdicts[j] = new StoredVerdict(false, registered[j].Id, 0, 0);
                return;
            }

            var best = mine.MaxBy(e => (e.Cosine, -e.OtherId));
            var rung = RungIndex(best.Cosine);
            // From the root the unions worked out: the same tree as the vector's, one step instead of two.
            var from = components[rung]?.GetValueOrDefault(registered[j].Id, registered[j].Id) ?? registered[j].Id;
            var root = await FindAsync(from, rung, deadline).ConfigureAwait(false);
            verdicts[j] = new StoredVerdict(true, root, best.OtherId, best.Cosine);
        })).ConfigureAwait(false);

        // 5. One group commit, fenced by the epochs the batch's fences gathered; then acknowledge.
        var rows = fresh.Select(j => new StoredVector(registered[j].Id, items[j].ExternalId, VectorId.HomeShard(registered[j].Id), items[j].Values,
            items[j].Keys, items[j].Sketch.Low, items[j].Sketch.High, verdicts[j], registered[j].InsertedAt)).ToList();
        var homes = fresh.GroupBy(j => VectorId.HomeShard(registered[j].Id)).ToList();
        try
        {
            // Not cancellable once queued: the rows may commit anyway, and the records must stay to match them.
            // The embedded engine loads its shards from the vectors' keys: PostgreSQL's bucket log is for silos' loads.
            events.AddRange(fresh.Select(j => verdicts[j] is var v && v.IsDuplicate
                ? new FeedEvent(FeedEventKind.Verdict, registered[j].Id, items[j].ExternalId, true, v.BestMatch, v.Canonical, v.BestCosine, RungIndex(v.BestCosine))
                : new FeedEvent(FeedEventKind.Verdict, registered[j].Id, items[j].ExternalId, false, 0, registered[j].Id, 0, 0)));
            await _committer.CommitAsync(new WriteBatch(fences.ToFences(), rows, edges) { Scheme = scheme, WithoutBucketLog = _silo is not null, Events = events }).ConfigureAwait(false);
        }
        catch (Exception e) when (_coordinator)
        {
            throw await CommitFailedAsync(e, registered, fresh, fences, edges).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            throw StopAfterFailedWrite(e);
        }

        try
        {
            await Task.WhenAll(homes.Select(h => _shards.AcknowledgeAsync(h.Key, [.. h.Select(j => new VerdictOf(registered[j].Id, verdicts[j]))]))).ConfigureAwait(false);
            foreach (var j in fresh)
            {
                _recall.Offer(registered[j].Id, items[j].Values);
            }
        }
        catch (Exception) when (_coordinator)
        {
            // Durable already: a home that cannot be told has gone with its silo, and its next activation loads the
            // vectors from the store as acknowledged.
        }
        catch (Exception e)
        {
            throw StopAfterFailedWrite(e);
        }

        return verdicts;
    }

    /// <summary>
    /// The embedded engine after a failed commit: bucket entries and links of unacknowledged vectors
    /// stay in memory, so this process can no longer be trusted to match the store; it refuses further work until it is
    /// restarted and reloads.
    /// </summary>
    private EngineStoppedException StopAfterFailedWrite(Exception e)
    {
        _fault = e;
        return new EngineStoppedException($"the store refused a write ({e.Message}); nothing of this batch was acknowledged. The engine stops taking work: restart it to reload from {_store.Description}", e);
    }

    /// <summary>
    /// A coordinator's failed commit, answered for at the shards so that the batch can simply be sent again. Refused by a
    /// fence (a shard it changed has a newer activation, which loaded without it): nothing was written, so the batch is
    /// abandoned (<see cref="AbandonAsync"/>). Any other failure (the database restarted, a connection broke mid-commit)
    /// leaves unknown whether it was written: every shard it changed reloads what is durable, so that a resend finds the
    /// vectors that were stored (stored once) and none of the entries or links of those that were not.
    /// </summary>
    private async Task<ShardUnavailableException> CommitFailedAsync(Exception e, RegisteredItem[] registered, List<int> fresh, FenceSet fences, List<VerifiedEdge> edges)
    {
        if (IsStale(e))
        {
            await AbandonAsync(registered, fresh, fences, edges, e).ConfigureAwait(false);
            return new ShardUnavailableException($"a shard moved while this batch was stored ({e.Message}); nothing of it was written, send it again", e) { Settled = true };
        }

        // Whether it was written is not known: its vectors that are not stored become ghosts (an edge another batch
        // committed to one keeps its place), and every shard it changed (its homes' records included) loads what is durable.
        await RecordGhostsAsync(registered, fresh, edges).ConfigureAwait(false);
        await ReloadAsync(fences.Changed).ConfigureAwait(false);
        return new ShardUnavailableException($"the store failed during a write ({e.Message}); whether this batch was stored is not known: send it again, an id is stored at most once", e) { Settled = true };
    }

    /// <summary>
    /// A coordinator's batch that will not be committed: its homes forget its vectors (their waiters learn
    /// <paramref name="reason"/>; each stays a ghost in the forests, which a concurrent batch may have linked through),
    /// and every shard it sent a link reloads what is durable at its next call: a link through a vector that is never
    /// stored would join clusters the store does not. Its bucket entries stay until those shards reload: a candidate
    /// whose home does not know it is never verified, so they cost memory, not answers.
    /// </summary>
    private async Task AbandonAsync(RegisteredItem[] registered, List<int> fresh, FenceSet fences, List<VerifiedEdge> edges, Exception reason)
    {
        await RecordGhostsAsync(registered, fresh, edges).ConfigureAwait(false);
        try
        {
            await ForgetAsync(registered, fresh, reason).ConfigureAwait(false);
        }
        catch (Exception e) when (IsTransient(e))
        {
            // A home that cannot be told is on a silo that went away: its next activation loads without the batch.
        }

        await ReloadAsync(fences.Touched).ConfigureAwait(false);
    }

    /// <summary>
    /// Records the batch's new vectors as ghosts in the store, unless stored (see <see cref="AbandonAsync"/>), with the
    /// edges it linked (<paramref name="edges"/>, empty if it failed before linking): a concurrent batch may have committed
    /// an edge to one of its vectors, or linked through its links (a find reads links before they are committed), and a
    /// reload would otherwise drop what memory keeps. With the store away (the likely cause of the failure) it is retried
    /// in the background for a while.
    /// </summary>
    private async Task RecordGhostsAsync(RegisteredItem[] registered, List<int> fresh, List<VerifiedEdge> edges)
    {
        long[] ids = [.. fresh.Select(j => registered[j].Id)];
        if (ids.Length == 0)
        {
            return;
        }

        try
        {
            await _store.RecordGhostsAsync(ids, edges).ConfigureAwait(false);
        }
        catch (Exception e) when (IsTransient(e))
        {
            _ = Task.Run(async () =>
            {
                for (var attempt = 0; attempt < 300; attempt++)
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), _options.Time).ConfigureAwait(false);
                    try
                    {
                        await _store.RecordGhostsAsync(ids, edges).ConfigureAwait(false);
                        return;
                    }
                    catch (Exception again) when (IsTransient(again) || again is ObjectDisposedException)
                    {
                        // The store is still away (or the engine closed): a reload then drops edges to them, as memory should.
                    }
                }
            });
        }
    }

    /// <summary>Has each of <paramref name="shards"/> drop its memory and load again (lazily, in groups) from the store.</summary>
    private async Task ReloadAsync(IEnumerable<int> shards)
    {
        await Task.WhenAll(shards.Select(async shard =>
        {
            try
            {
                await _shards.ReloadAsync(shard).ConfigureAwait(false);
            }
            catch (Exception e) when (IsTransient(e))
            {
                // Its silo went away: the shard loads from the store wherever it activates next.
            }
        })).ConfigureAwait(false);
    }

    /// <summary>Whether <paramref name="e"/> (or an exception inside it) is a write refused, nothing written: by a fence, or for its learning scheme.</summary>
    private static bool IsStale(Exception e) => Has<StaleEpochException>(e) || IsSchemeChanged(e);

    /// <summary>Whether <paramref name="e"/> (or an exception inside it) is a batch of a learning scheme refused because the cluster fixed its scheme.</summary>
    private static bool IsSchemeChanged(Exception e) => Has<SchemeChangedException>(e);

    private static bool Has<T>(Exception e)
        where T : Exception
    {
        for (var x = e; x is not null; x = x.InnerException)
        {
            if (x is T)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The edges at or above <paramref name="lowestRung"/> between each query and its candidates (those of query q at
    /// <paramref name="candidates"/>[<paramref name="starts"/>[q.Item] … <paramref name="starts"/>[q.Item + 1]], repeats
    /// allowed: each distinct one is checked once; the spans are compacted in place), grouped by home shard for the shard
    /// calls: those homed on shards active in this process are checked in place, the others at their silos
    /// (<see cref="GrainShardCalls.VerifyAllAsync"/>).
    /// </summary>
    private async Task<List<FoundEdge>> VerifyCandidatesAsync(IReadOnlyList<VerifyQuery> queries, long[] candidates, int[] starts, float lowestRung, float screen,
        bool admission, DateTimeOffset deadline)
    {
        // Each query's distinct candidates, compacted in place at the start of its span, and how many each shard homes.
        var distinct = new int[queries.Count];
        var shardStarts = new int[_shards.ShardCount + 1];
        var seen = new HashSet<long>();
        for (var q = 0; q < queries.Count; q++)
        {
            seen.Clear();
            var mine = candidates.AsSpan(starts[queries[q].Item], starts[queries[q].Item + 1] - starts[queries[q].Item]);
            var kept = 0;
            foreach (var other in mine)
            {
                if (seen.Add(other))
                {
                    mine[kept++] = other;
                    shardStarts[VectorId.HomeShard(other) + 1]++;
                }
            }

            distinct[q] = kept;
        }

        for (var s = 0; s < _shards.ShardCount; s++)
        {
            shardStarts[s + 1] += shardStarts[s];
        }

        var checkCount = shardStarts[^1];
        Interlocked.Add(ref _checkedCandidates, checkCount);
        LshClusterMetrics.Candidates.Add(checkCount, new KeyValuePair<string, object?>("stage", "checked"));

        // By home shard (a counting sort, queries in order within each shard): a shard's records are read by many checks
        // of the batch one after another, from cache.
        var byHomeShard = new PooledList<Verification>(checkCount);
        byHomeShard.SetCount(checkCount);
        var sorted = byHomeShard.Span;
        var next = shardStarts[..^1];
        for (var q = 0; q < queries.Count; q++)
        {
            foreach (var other in candidates.AsSpan(starts[queries[q].Item], distinct[q]))
            {
                sorted[next[VectorId.HomeShard(other)]++] = new Verification(queries[q], other);
            }
        }

        try
        {
            var edges = await _shards.VerifyAllAsync(ShardGroups.Runs(byHomeShard, shardStarts), lowestRung, screen, admission, deadline).ConfigureAwait(false);

            // In a fixed order, whatever the threads' (a batch's links, and so its forests, do not depend on the schedule).
            edges.Sort((a, b) => a.Item != b.Item ? a.Item.CompareTo(b.Item) : a.OtherId.CompareTo(b.OtherId));
            return edges;
        }
        finally
        {
            byHomeShard.Return();
        }
    }

    /// <summary>
    /// The candidates found for a batch, grouped by item with a counting sort into one pooled array (return it to
    /// <see cref="CandidateBuffers"/>): those of item j are at <paramref name="starts"/>[j] … <paramref name="starts"/>[j + 1].
    /// One array and one reused set per batch instead of a hash set per vector. The lists read are given back to their pool.
    /// </summary>
    private static long[] CandidatesByItem(PooledList<Candidate>[] gathered, int items, out int[] starts)
    {
        starts = new int[items + 1];
        foreach (var list in gathered)
        {
            foreach (ref readonly var c in list.Span)
            {
                starts[c.Item + 1]++;
            }
        }

        for (var j = 0; j < items; j++)
        {
            starts[j + 1] += starts[j];
        }

        var byItem = CandidateBuffers.Rent(Math.Max(1, starts[items]));
        var next = starts[..items];
        foreach (var list in gathered)
        {
            foreach (ref readonly var c in list.Span)
            {
                byItem[next[c.Item]++] = c.CandidateId;
            }

            list.Return();
        }

        return byItem;
    }

    /// <summary>
    /// Per rung, the edges of a spanning forest of <paramref name="edges"/>: the components are the same, and a dense
    /// batch (many duplicates of one cluster) sends one union per vector instead of one per edge.
    /// </summary>
    private List<(long A, long B, int Rung)> SpanningEdges(List<VerifiedEdge> edges)
    {
        var unions = new List<(long, long, int)>();
        for (var r = 0; r < _rungs.Length; r++)
        {
            var local = new UnionFind();
            foreach (var e in edges)
            {
                if (e.Cosine >= _rungs[r] && local.Find(e.A) != local.Find(e.B))
                {
                    local.Union(e.A, e.B);
                    unions.Add((e.A, e.B, r));
                }
            }
        }

        return unions;
    }

    /// <summary>
    /// The unions of many edges (from <see cref="SpanningEdges"/>): per rung, the root of each endpoint is found once,
    /// the merges are worked out here over those roots, and only links between distinct roots are sent. A vector with
    /// fifty near-duplicates in one cluster costs a find per member and one link, not fifty unions of two finds each
    /// (every step of a find is a shard call; between silos, part of a message). A link refused because its root was
    /// linked meanwhile by another batch falls back to <see cref="UnionAsync"/>.
    /// </summary>
    /// <returns>Per rung, each endpoint's component as worked out here: a node of that component (its root when no other
    /// batch linked it meanwhile), so that a find from it is the shortest.</returns>
    private async Task<Dictionary<long, long>?[]> UnionAllAsync(List<(long A, long B, int Rung)> unions, DateTimeOffset deadline, FenceSet? fences = null, List<FeedEvent>? merges = null)
    {
        var components = new Dictionary<long, long>?[_rungs.Length];
        await Task.WhenAll(unions.GroupBy(u => u.Rung).Select(async edges =>
        {
            var rung = edges.Key;
            var nodes = edges.SelectMany(u => (long[])[u.A, u.B]).Distinct().ToList();
            var roots = await Task.WhenAll(nodes.Select(n => FindAsync(n, rung, deadline))).ConfigureAwait(false);
            var rootOf = new Dictionary<long, long>(nodes.Count);
            for (var i = 0; i < nodes.Count; i++)
            {
                rootOf[nodes[i]] = roots[i];
            }

            // Smallest id on top, as the shards link: each link's child is a root not linked before in this batch.
            var merged = new UnionFind();
            var links = new List<(long Child, long Parent)>();
            foreach (var (a, b, _) in edges)
            {
                var ra = merged.Find(rootOf[a]);
                var rb = merged.Find(rootOf[b]);
                if (ra != rb)
                {
                    merged.Union(ra, rb);
                    links.Add((Math.Max(ra, rb), Math.Min(ra, rb)));
                }
            }

            var transfers = new List<(long Root, MemberTransfer Members)>();
            await Task.WhenAll(links.Select(async link =>
            {
                var home = VectorId.HomeShard(link.Child);
                fences?.Touch(home);
                var (epoch, moved) = await _shards.LinkAsync(home, link.Child, link.Parent, rung, deadline).ConfigureAwait(false);
                if (moved is { } members)
                {
                    fences?.AddChanged(home, epoch);
                    LshClusterMetrics.Merges.Add(1);
                    lock (transfers)
                    {
                        transfers.Add((link.Parent, members));
                    }

                    if (merges is not null)
                    {
                        lock (merges)
                        {
                            merges.Add(Merged(link.Child, link.Parent, rung));
                        }
                    }
                }
                else
                {
                    await UnionAsync(link.Child, link.Parent, rung, deadline, fences, merges).ConfigureAwait(false);
                }
            })).ConfigureAwait(false);
            await AbsorbAsync(transfers, rung, deadline, fences).ConfigureAwait(false);
            components[rung] = nodes.ToDictionary(n => n, n => merged.Find(rootOf[n]));
        })).ConfigureAwait(false);
        return components;
    }

    /// <summary>
    /// The compare-and-set union of DESIGN.md section 4: find both roots; link the larger-id root under the smaller
    /// only if it is still a root; retry if another union got there first.
    /// </summary>
    private async Task UnionAsync(long a, long b, int rung, DateTimeOffset deadline, FenceSet? fences = null, List<FeedEvent>? merges = null)
    {
        while (true)
        {
            var ra = await FindAsync(a, rung, deadline).ConfigureAwait(false);
            var rb = await FindAsync(b, rung, deadline).ConfigureAwait(false);
            if (ra == rb)
            {
                return;
            }

            var (child, parent) = ra > rb ? (ra, rb) : (rb, ra);
            var home = VectorId.HomeShard(child);
            fences?.Touch(home);
            var (epoch, moved) = await _shards.LinkAsync(home, child, parent, rung, deadline).ConfigureAwait(false);
            if (moved is { } members)
            {
                fences?.AddChanged(home, epoch);
                LshClusterMetrics.Merges.Add(1);
                if (merges is not null)
                {
                    lock (merges)
                    {
                        merges.Add(Merged(child, parent, rung));
                    }
                }

                await AbsorbAsync([(parent, members)], rung, deadline, fences).ConfigureAwait(false);
                return;
            }
        }
    }

    // The feed's event for a link: at the rung, the cluster of root child joined that of root parent.
    private static FeedEvent Merged(long child, long parent, int rung) => new(FeedEventKind.Merge, child, string.Empty, false, parent, 0, 0, rung);

    /// <summary>
    /// Hands the members that links took from the roots they linked to the clusters of the roots they linked them under
    /// (one call per home shard); a root linked meanwhile by another batch passes them on to its own root. A shard that
    /// took them fences the batch: should it reload before the commit, it loaded without them.
    /// </summary>
    private Task AbsorbAsync(List<(long Root, MemberTransfer Members)> transfers, int rung, DateTimeOffset deadline, FenceSet? fences) =>
        AtRootsAsync(transfers, rung, deadline, async (home, mine) =>
        {
            fences?.Touch(home);
            var (epoch, moved) = await _shards.AbsorbAsync(home, rung, mine).ConfigureAwait(false);
            fences?.AddChanged(home, epoch);
            return moved;
        });

    /// <summary>
    /// Sends each item to the home shard of its root, one call per shard (<paramref name="send"/> returns the indexes of
    /// the items whose root was no longer a root); those go on to the root their root was linked under, until none is left.
    /// </summary>
    private async Task AtRootsAsync<T>(List<(long Root, T Item)> items, int rung, DateTimeOffset deadline, Func<int, List<(long Root, T Item)>, Task<int[]>> send)
    {
        while (items.Count > 0)
        {
            var onward = new List<(long Root, T Item)>();
            await Task.WhenAll(items.GroupBy(t => VectorId.HomeShard(t.Root)).Select(async home =>
            {
                var mine = home.ToList();
                var moved = await send(home.Key, mine).ConfigureAwait(false);
                var roots = await Task.WhenAll(moved.Select(k => FindAsync(mine[k].Root, rung, deadline))).ConfigureAwait(false);
                lock (onward)
                {
                    onward.AddRange(moved.Select((k, i) => (roots[i], mine[k].Item)));
                }
            })).ConfigureAwait(false);
            items = onward;
        }
    }

    /// <summary>Applies one edge through the shard protocol (for the protocol tests).</summary>
    internal Task UnionForTestsAsync(long a, long b, float cosine) =>
        Task.WhenAll(SpanningEdges([new VerifiedEdge(a, b, cosine)]).Select(u => UnionAsync(u.A, u.B, u.Rung, DateTimeOffset.MaxValue)));

    /// <summary>Applies a batch's edges as an insert does, through <see cref="UnionAllAsync"/> (for the protocol tests).</summary>
    internal Task UnionBatchForTestsAsync(IEnumerable<(long A, long B, float Cosine)> edges) =>
        UnionAllAsync(SpanningEdges([.. edges.Select(e => new VerifiedEdge(Math.Min(e.A, e.B), Math.Max(e.A, e.B), e.Cosine))]), DateTimeOffset.MaxValue);

    /// <summary>The root of <paramref name="id"/> at rung index <paramref name="rung"/> (for the protocol tests).</summary>
    internal Task<long> FindForTestsAsync(long id, int rung) => FindAsync(id, rung, _options.Time.GetUtcNow() + _options.RequestTimeout);

    /// <summary>
    /// The root of <paramref name="id"/> at rung index <paramref name="rung"/>: up the forest through each home shard
    /// in turn, read in place where the shard is active in this process (<see cref="Shard.Ascend"/>), else by a call.
    /// </summary>
    private async Task<long> FindAsync(long id, int rung, DateTimeOffset deadline)
    {
        var node = id;
        while (true)
        {
            var home = VectorId.HomeShard(node);
            var (next, isRoot) = await _shards.AscendAsync(home, node, rung, deadline).ConfigureAwait(false);
            if (isRoot)
            {
                return next;
            }

            node = next;
        }
    }

    private async Task<Verdict> DescribeAsync(string externalId, long id, StoredVerdict stored, bool repeated)
    {
        if (!stored.IsDuplicate)
        {
            return new Verdict(externalId, id, VerdictKind.New, null, null, null, null, null, repeated);
        }

        // Not subject to admission: the verdict is durable already, and a busy shard must not turn it into an error.
        var canonical = RecordAsync(stored.Canonical, admission: false);
        var best = RecordAsync(stored.BestMatch, admission: false);
        return new Verdict(externalId, id, VerdictKind.Duplicate, _rungs[RungIndex(stored.BestCosine)], stored.Canonical,
            (await canonical.ConfigureAwait(false))?.ExternalId, (await best.ConfigureAwait(false))?.ExternalId, stored.BestCosine, repeated);
    }

    private int RungIndex(float cosine)
    {
        for (var r = 0; r < _rungs.Length; r++)
        {
            if (cosine >= _rungs[r])
            {
                return r;
            }
        }

        return _rungs.Length - 1;
    }

    /// <summary>Forgets the registrations of items <paramref name="js"/> at their homes (their insert failed before its commit).</summary>
    private Task ForgetAsync(RegisteredItem[] registered, List<int> js, Exception error) =>
        Task.WhenAll(js.GroupBy(j => VectorId.HomeShard(registered[j].Id)).Select(g => _shards.ForgetAsync(g.Key, [.. g.Select(j => registered[j].Id)], error)));

    private ItemError? Validate(VectorInput item, int index)
    {
        var prefix = $"items[{index}]";
        if (item is null)
        {
            return new ItemError(prefix, "malformed", $"{prefix} is missing");
        }

        if (string.IsNullOrEmpty(item.ExternalId))
        {
            return new ItemError($"{prefix}.id", "empty_id", $"{prefix}.id is empty; every vector needs an id");
        }

        if (item.ExternalId.Length > _options.MaxExternalIdLength)
        {
            return new ItemError($"{prefix}.id", "id_too_long", $"{prefix}.id has {item.ExternalId.Length} characters; at most {_options.MaxExternalIdLength} are allowed");
        }

        if (item.Values is null)
        {
            return new ItemError($"{prefix}.vector", "malformed", $"{prefix}.vector is missing");
        }

        var error = VectorValidator.Validate(item.Values, Scheme.Dimension, $"{prefix}.vector");
        return error is null ? null : new ItemError(error.Field, error.Code.Name(), error.Message);
    }

    private void ThrowIfFaulted()
    {
        if (_fault is { } fault)
        {
            throw new EngineStoppedException($"the engine stopped taking work after a failed write ({fault.Message}); restart it to reload from {_store.Description}", fault);
        }
    }

    private static void Add<T>(Dictionary<int, List<T>> groups, int shard, T item)
    {
        if (!groups.TryGetValue(shard, out var list))
        {
            groups[shard] = list = [];
        }

        list.Add(item);
    }

    private static async Task ForEachShard(int count, Func<int, int> shardOf, Func<int, List<int>, Task> send)
    {
        var groups = new Dictionary<int, List<int>>();
        for (var j = 0; j < count; j++)
        {
            Add(groups, shardOf(j), j);
        }

        // Each send runs inside its own task, so that one refusal still lets every other shard answer before the
        // caller sees the error.
        await Task.WhenAll(groups.Select(async g => await send(g.Key, g.Value).ConfigureAwait(false))).ConfigureAwait(false);
    }

    /// <summary>
    /// The projected cosine below which a candidate cannot reach <paramref name="lowestRung"/>: the rung minus seven
    /// standard deviations of the projection's estimate there, (1 − τ²)/√m, and a little for rounding.
    /// </summary>
    internal static float ProjectionScreen(float lowestRung, int projectionLength) =>
        (float)(lowestRung - (7 * (1 - ((double)lowestRung * lowestRung)) / Math.Sqrt(projectionLength)) - 0.002);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        LshClusterMetrics.Unregister(this);
        await _recall.DisposeAsync().ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _feedRetention.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        try
        {
            await _learning.ConfigureAwait(false); // it uses the store and the silo
        }
        catch (Exception)
        {
            // Recorded as LearningFailure, or the engine is closing.
        }

        if (_silo is not null)
        {
            await _silo.DisposeAsync().ConfigureAwait(false);
        }

        await _committer.DisposeAsync().ConfigureAwait(false);
        await _store.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }
}
