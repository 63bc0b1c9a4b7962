using LshCluster.Core.Hashing;
using LshCluster.Core.Ids;
using LshCluster.Core.Kernels;
using LshCluster.Core.Vectors;
using LshCluster.Runtime;
using LshCluster.Silo.Shards;
using LshCluster.Storage;

namespace LshCluster.Silo.Engine;

/// <summary>
/// The dedup engine of one process: <c>S</c> shard actors, each behind its own mailbox, driven through the insert
/// pipeline of DESIGN.md section 4 — register at the home shard, bucket lookups and inserts at the bucket shards
/// (sketch-filtered), exact cosine at the candidates' homes, union-find links by compare-and-set at the roots' homes,
/// then one group commit; a request is answered only after its writes are durable. Shards talk only through
/// messages, so a transport and a placement layer can later sit under the same calls.
/// </summary>
public sealed partial class DedupEngine : IAsyncDisposable
{
    private readonly IDedupStore _store;
    private readonly DedupEngineOptions _options;
    private readonly LshHasher _hasher;
    private readonly Shard[] _shards;
    private readonly Mailbox[] _mailboxes;
    private readonly GroupCommitter _committer;
    private readonly float[] _rungs;
    private readonly int _maxHamming;
    private readonly float _screen;
    private volatile Exception? _fault;

    private DedupEngine(IDedupStore store, LshScheme scheme, DedupEngineOptions options, Shard[] shards)
    {
        _store = store;
        _options = options;
        Scheme = scheme;
        _hasher = new LshHasher(scheme);
        _shards = shards;
        _rungs = [.. scheme.Rungs];
        _maxHamming = SketchThreshold(scheme.LowestRung);
        _screen = ProjectionScreen(scheme.LowestRung, _hasher.ProjectionLength);
        _mailboxes = [.. shards.Select(s => new Mailbox($"shard {s.Index}", options.MailboxCapacity, options.Time))];
        _committer = new GroupCommitter(store, options.GroupCommitMaxVectors);
    }

    /// <summary>The cluster's scheme.</summary>
    public LshScheme Scheme { get; }

    /// <summary>The rungs, highest first.</summary>
    public IReadOnlyList<float> Rungs => _rungs;

    /// <summary>The store, described without secrets.</summary>
    public string StoreDescription => _store.Description;

    /// <summary>The most vectors one insert batch may hold.</summary>
    public int MaxBatchSize => _options.MaxBatchSize;

    /// <summary>Storage transactions committed since start.</summary>
    public long Commits => _committer.Commits;

    /// <summary>
    /// Opens the cluster stored in <paramref name="store"/>: migrates, reads the scheme, claims every shard (a new
    /// epoch fences out any previous owner), and reloads vectors, bucket entries and the union-find forests
    /// (replaying every stored edge; union is idempotent).
    /// </summary>
    /// <exception cref="InvalidOperationException">The store holds no cluster (create one first).</exception>
    public static async Task<DedupEngine> OpenAsync(IDedupStore store, DedupEngineOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new DedupEngineOptions();
        options.Validate();
        await store.MigrateAsync(cancellationToken).ConfigureAwait(false);
        var scheme = await store.ReadSchemeAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"{store.Description} holds no cluster yet; create one first (lshc create)");
        var shards = new Shard[scheme.ShardCount];
        for (var s = 0; s < shards.Length; s++)
        {
            shards[s] = new Shard(s, scheme.Rungs.Count, options.Time);
        }

        var epochs = await store.ClaimShardsAsync(options.Owner, [.. Enumerable.Range(0, shards.Length)], cancellationToken).ConfigureAwait(false);
        for (var s = 0; s < shards.Length; s++)
        {
            shards[s].Epoch = epochs[s];
        }

        await LoadAsync(store, scheme, shards, cancellationToken).ConfigureAwait(false);
        return new DedupEngine(store, scheme, options, shards);
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
    /// <exception cref="OverloadedException">A shard's mailbox is full; nothing of the batch was stored.</exception>
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

        // Hash every valid vector (the CPU-heavy part, so in parallel): bucket keys, probes, sketch, squared norm.
        var tables = Scheme.Tables;
        var probes = Scheme.Probes;
        var keys = new ulong[valid.Count * tables];
        var probeKeys = probes > 1 ? new ulong[valid.Count * tables * probes] : [];
        var sketches = new Sketch128[valid.Count];
        var norms = new float[valid.Count];
        var projections = new float[valid.Count][];
        Parallel.For(0, valid.Count, new ParallelOptions { CancellationToken = cancellationToken }, j =>
        {
            var values = items[valid[j]].Values;
            _hasher.Hash(values, keys.AsSpan(j * tables, tables), default, probes > 1 ? probeKeys.AsSpan(j * tables * probes, tables * probes) : default);
            projections[j] = new float[_hasher.ProjectionLength];
            sketches[j] = _hasher.ComputeSketch(values, projections[j]);
            norms[j] = VectorMath.SquaredNorm(values);
        });

        // 1. Register at the home shards.
        var records = new HomeRecord[valid.Count];
        var isNew = new bool[valid.Count];
        try
        {
            await ForEachShard(valid.Count, j => Scheme.HomeShard(items[valid[j]].ExternalId), (shard, js) =>
            {
                var registrations = js.Select(j => new Registration(items[valid[j]].ExternalId, items[valid[j]].Values, norms[j], projections[j])).ToArray();
                return _mailboxes[shard].Post(() =>
                {
                    var found = _shards[shard].Register(registrations, out var fresh);
                    for (var n = 0; n < js.Count; n++)
                    {
                        records[js[n]] = found[n];
                        isNew[js[n]] = fresh[n];
                    }

                    return true;
                }, deadline);
            }).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // A shard refused (overloaded) after others registered their part: take those back so that nothing of
            // the batch stays half-registered, then report the refusal.
            await ForgetAsync(Enumerable.Range(0, valid.Count).Where(j => isNew[j]).Select(j => records[j]), e).ConfigureAwait(false);
            throw;
        }

        var fresh = Enumerable.Range(0, valid.Count).Where(j => isNew[j]).ToList();
        try
        {
            // Once its bucket entries may be visible to other requests, a batch is carried through to its commit: no
            // deadline or cancellation stops it half-way (DESIGN.md section 6 applies the deadline to the request's
            // admission, its registration).
            await InsertNewAsync(fresh, records, keys, probeKeys, sketches).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Only a failed commit (or shutdown) gets here. Other batches may already have linked to these vectors,
            // so the engine stops: the committer refuses everything after a failure, and a restart reloads.
            _fault ??= e;
            await ForgetAsync(fresh.Select(j => records[j]), e).ConfigureAwait(false);
            throw;
        }

        // Repeats (and ids sent twice in this batch) answer with the verdict of the first insert once it is durable.
        // Describing a duplicate looks up two external ids at their homes: all items at once, not one after another.
        await Task.WhenAll(Enumerable.Range(0, valid.Count).Select(async j =>
        {
            var i = valid[j];
            StoredVerdict stored;
            try
            {
                stored = await records[j].Verdict.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (!isNew[j] && e is not OperationCanceledException)
            {
                // The request that first sent this id failed; this batch's own items are unaffected.
                results[i] = new InsertResult(i, null, new ItemError($"items[{i}].id", "retry",
                    $"items[{i}].id: an earlier request with this id failed before it was stored ({e.Message}); nothing is stored for it, send it again"));
                return;
            }

            results[i] = new InsertResult(i, await DescribeAsync(records[j], stored, repeated: !isNew[j]).ConfigureAwait(false), null);
        })).ConfigureAwait(false);

        return results!;
    }

    private async Task InsertNewAsync(List<int> fresh, HomeRecord[] records, ulong[] keys, ulong[] probeKeys, Sketch128[] sketches)
    {
        var deadline = DateTimeOffset.MaxValue;
        if (fresh.Count == 0)
        {
            return;
        }

        // 2. Bucket lookups then inserts, grouped by bucket shard, in batch order within each shard.
        var tables = Scheme.Tables;
        var probes = Scheme.Probes;
        var operations = new Dictionary<int, List<BucketOperation>>();
        foreach (var j in fresh)
        {
            var id = records[j].Id;
            var sketch = sketches[j];
            for (var t = 0; t < tables; t++)
            {
                var key = keys[(j * tables) + t];
                if (probes > 1)
                {
                    for (var p = 0; p < probes; p++)
                    {
                        var probe = probeKeys[(((j * tables) + t) * probes) + p];
                        Add(operations, Scheme.ShardOfBucket(t, probe), new BucketOperation(j, id, probe, sketch.Low, sketch.High, Insert: false));
                    }
                }
                else
                {
                    Add(operations, Scheme.ShardOfBucket(t, key), new BucketOperation(j, id, key, sketch.Low, sketch.High, Insert: false));
                }

                Add(operations, Scheme.ShardOfBucket(t, key), new BucketOperation(j, id, key, sketch.Low, sketch.High, Insert: true));
            }
        }

        var candidates = new HashSet<long>[records.Length];
        var gathered = await Task.WhenAll(operations.Select(pair =>
            _mailboxes[pair.Key].SendAsync(() => _shards[pair.Key].RunBucketOperations(pair.Value, _maxHamming), deadline))).ConfigureAwait(false);
        foreach (var list in gathered)
        {
            foreach (var c in list)
            {
                (candidates[c.Item] ??= []).Add(c.CandidateId);
            }
        }

        // 3. Exact cosine at the candidates' homes.
        var checks = new Dictionary<int, List<Verification>>();
        foreach (var j in fresh)
        {
            if (candidates[j] is not { } set)
            {
                continue;
            }

            foreach (var other in set)
            {
                Add(checks, VectorId.HomeShard(other), new Verification(j, records[j].Id, records[j].Values, records[j].SquaredNorm, records[j].Projection, records[j].ProjectionSquaredNorm, other));
            }
        }

        var lowest = Scheme.LowestRung;
        var verified = await Task.WhenAll(checks.Select(pair =>
            _mailboxes[pair.Key].SendAsync(() => _shards[pair.Key].Verify(pair.Value, lowest, _screen), deadline))).ConfigureAwait(false);
        var edgesOf = new List<FoundEdge>?[records.Length];
        var edges = new List<VerifiedEdge>();
        foreach (var list in verified)
        {
            foreach (var e in list)
            {
                (edgesOf[e.Item] ??= []).Add(e);
                edges.Add(new VerifiedEdge(Math.Min(e.VectorId, e.OtherId), Math.Max(e.VectorId, e.OtherId), e.Cosine));
            }
        }

        // 4. Union at every rung each edge reaches — only the edges of a spanning forest of this batch's edges, since
        // the others join vectors already joined — then each vector's verdict from its best match.
        await Task.WhenAll(SpanningEdges(edges).Select(u => UnionAsync(u.A, u.B, u.Rung, deadline))).ConfigureAwait(false);
        var verdicts = new StoredVerdict[records.Length];
        await Task.WhenAll(fresh.Select(async j =>
        {
            if (edgesOf[j] is not { } mine)
            {
                verdicts[j] = new StoredVerdict(false, records[j].Id, 0, 0);
                return;
            }

            var best = mine.MaxBy(e => (e.Cosine, -e.OtherId));
            var rung = RungIndex(best.Cosine);
            var root = await FindAsync(records[j].Id, rung, deadline).ConfigureAwait(false);
            verdicts[j] = new StoredVerdict(true, root, best.OtherId, best.Cosine);
        })).ConfigureAwait(false);

        // 5. One group commit, fenced by the epochs of the home shards written for; then acknowledge.
        var rows = fresh.Select(j => new StoredVector(records[j].Id, records[j].ExternalId, VectorId.HomeShard(records[j].Id), records[j].Values,
            keys.AsSpan(j * tables, tables).ToArray(), sketches[j].Low, sketches[j].High, verdicts[j], records[j].InsertedAt)).ToList();
        var fences = rows.Select(r => r.HomeShard).Distinct().Select(s => new ShardFence(s, _shards[s].Epoch)).ToList();
        try
        {
            // Not cancellable once queued: the rows may commit anyway, and the records must stay to match them.
            await _committer.CommitAsync(new WriteBatch(fences, rows, edges)).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Bucket entries and links of unacknowledged vectors stay in memory, so this process can no longer be
            // trusted to match the store: refuse further work until it is restarted and reloads.
            _fault = e;
            throw new EngineStoppedException($"the store refused a write ({e.Message}); nothing of this batch was acknowledged. The engine stops taking work: restart it to reload from {_store.Description}", e);
        }

        foreach (var j in fresh)
        {
            records[j].Acknowledge(verdicts[j]);
        }
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
    /// The compare-and-set union of DESIGN.md section 4: find both roots; link the larger-id root under the smaller
    /// only if it is still a root; retry if another union got there first.
    /// </summary>
    private async Task UnionAsync(long a, long b, int rung, DateTimeOffset deadline)
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
            if (await _mailboxes[home].SendAsync(() => _shards[home].Link(child, parent, rung), deadline).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    /// <summary>Applies one edge through the shard protocol (for the protocol tests).</summary>
    internal Task UnionForTestsAsync(long a, long b, float cosine) =>
        Task.WhenAll(SpanningEdges([new VerifiedEdge(a, b, cosine)]).Select(u => UnionAsync(u.A, u.B, u.Rung, DateTimeOffset.MaxValue)));

    /// <summary>The root of <paramref name="id"/> at rung index <paramref name="rung"/> (for the protocol tests).</summary>
    internal Task<long> FindForTestsAsync(long id, int rung) => FindAsync(id, rung, _options.Time.GetUtcNow() + _options.RequestTimeout);

    private async Task<long> FindAsync(long id, int rung, DateTimeOffset deadline)
    {
        var node = id;
        while (true)
        {
            var home = VectorId.HomeShard(node);
            var current = node;
            var (next, isRoot) = await _mailboxes[home].SendAsync(() => _shards[home].Ascend(current, rung), deadline).ConfigureAwait(false);
            if (isRoot)
            {
                return next;
            }

            node = next;
        }
    }

    private async Task<Verdict> DescribeAsync(HomeRecord record, StoredVerdict stored, bool repeated)
    {
        var deadline = DateTimeOffset.MaxValue;
        if (!stored.IsDuplicate)
        {
            return new Verdict(record.ExternalId, record.Id, VerdictKind.New, null, null, null, null, null, repeated);
        }

        var canonical = (await RecordAsync(stored.Canonical).ConfigureAwait(false))?.ExternalId;
        var best = (await RecordAsync(stored.BestMatch).ConfigureAwait(false))?.ExternalId;
        return new Verdict(record.ExternalId, record.Id, VerdictKind.Duplicate, _rungs[RungIndex(stored.BestCosine)], stored.Canonical, canonical, best, stored.BestCosine, repeated);
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

    private async Task ForgetAsync(IEnumerable<HomeRecord> records, Exception error)
    {
        foreach (var group in records.GroupBy(r => VectorId.HomeShard(r.Id)))
        {
            var list = group.ToList();
            try
            {
                await _mailboxes[group.Key].SendAsync(() =>
                {
                    _shards[group.Key].Unregister([.. list.Select(r => r.Id)], error);
                    return true;
                }, DateTimeOffset.MaxValue).ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                // Shutting down: the records go with the process, but whoever waits on them must not hang.
                foreach (var record in list)
                {
                    record.Fail(error);
                }
            }
        }
    }

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
        return error is null ? null : new ItemError(error.Field, CodeOf(error.Code), error.Message);
    }

    private static string CodeOf(VectorErrorCode code) => code switch
    {
        VectorErrorCode.WrongDimension => "wrong_dimension",
        VectorErrorCode.NotANumber => "not_a_number",
        VectorErrorCode.Infinite => "infinite",
        VectorErrorCode.ZeroNorm => "zero_norm",
        VectorErrorCode.NormOverflow => "norm_overflow",
        _ => "invalid_vector",
    };

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
    /// The most differing sketch bits a pair at cosine <paramref name="lowestRung"/> is allowed: the mean of the
    /// binomial Hamming distance plus six standard deviations, so a true near-duplicate is practically never dropped.
    /// </summary>
    internal static int SketchThreshold(float lowestRung)
    {
        var p = Math.Acos(Math.Clamp(lowestRung, -1f, 1f)) / Math.PI;
        return (int)Math.Min(128, Math.Ceiling((128 * p) + (6 * Math.Sqrt(128 * p * (1 - p)))));
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
        foreach (var mailbox in _mailboxes)
        {
            await mailbox.DisposeAsync().ConfigureAwait(false);
        }

        await _committer.DisposeAsync().ConfigureAwait(false);
        await _store.DisposeAsync().ConfigureAwait(false);
    }

    private static async Task LoadAsync(IDedupStore store, LshScheme scheme, Shard[] shards, CancellationToken cancellationToken)
    {
        var known = new HashSet<long>();
        var loaded = new List<HomeRecord>();
        var hasher = new LshHasher(scheme);
        await foreach (var v in store.ReadVectorsAsync(cancellationToken).ConfigureAwait(false))
        {
            var projection = new float[hasher.ProjectionLength];
            hasher.ComputeSketch(v.Values, projection);
            var record = new HomeRecord(v.VectorId, v.ExternalId, v.Values, VectorMath.SquaredNorm(v.Values), projection, v.InsertedAt, v.Verdict);
            shards[VectorId.HomeShard(v.VectorId)].LoadRecord(record);
            for (var t = 0; t < v.BucketKeys.Length; t++)
            {
                shards[scheme.ShardOfBucket(t, v.BucketKeys[t])].LoadBucketEntry(v.BucketKeys[t], v.VectorId, v.SketchLow, v.SketchHigh);
            }

            known.Add(v.VectorId);
            if (v.Verdict.IsDuplicate)
            {
                loaded.Add(record);
            }
        }

        // A verdict can name a vector that never got stored: a concurrent batch whose commit failed (the engine then
        // stopped). Those verdicts are derived again from the stored edges below.
        var orphans = loaded.Where(r => !known.Contains(r.AcknowledgedVerdict.Canonical) || !known.Contains(r.AcknowledgedVerdict.BestMatch))
            .ToDictionary(r => r.Id);
        var bestOf = new Dictionary<long, (float Cosine, long Other)>();

        // Replay every edge whose two ends are stored (an edge to a vector whose own commit never happened is moot).
        var forests = new UnionFind[scheme.Rungs.Count];
        for (var r = 0; r < forests.Length; r++)
        {
            forests[r] = new UnionFind();
        }

        await foreach (var e in store.ReadEdgesAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!known.Contains(e.A) || !known.Contains(e.B))
            {
                continue;
            }

            foreach (var (self, other) in new[] { (e.A, e.B), (e.B, e.A) })
            {
                if (orphans.ContainsKey(self) && (!bestOf.TryGetValue(self, out var best) || e.Cosine > best.Cosine))
                {
                    bestOf[self] = (e.Cosine, other);
                }
            }

            for (var r = 0; r < forests.Length; r++)
            {
                if (e.Cosine >= scheme.Rungs[r])
                {
                    forests[r].Union(e.A, e.B);
                }
            }
        }

        for (var r = 0; r < forests.Length; r++)
        {
            foreach (var (child, root) in forests[r].NonRoots())
            {
                shards[VectorId.HomeShard(child)].Link(child, root, r);
            }
        }

        foreach (var orphan in orphans.Values)
        {
            if (!bestOf.TryGetValue(orphan.Id, out var best))
            {
                orphan.ReplaceVerdictAtLoad(new StoredVerdict(false, orphan.Id, 0, 0));
                continue;
            }

            var rung = 0;
            while (rung < scheme.Rungs.Count - 1 && best.Cosine < scheme.Rungs[rung])
            {
                rung++;
            }

            orphan.ReplaceVerdictAtLoad(new StoredVerdict(true, forests[rung].Find(orphan.Id), best.Other, best.Cosine));
        }
    }
}
