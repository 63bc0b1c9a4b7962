using System.Collections.Concurrent;
using LshCluster.Core.Ids;
using LshCluster.Core.Kernels;
using LshCluster.Core.Vectors;
using LshCluster.Storage;

namespace LshCluster.Grains.Shards;

/// <summary>
/// The state and turns of one shard actor: a slice of the buckets of every table, the home records of a slice of
/// the vectors, their parent pointers in the union-find forest of every rung, and the clusters whose roots are homed
/// here (<see cref="ClusterIndex"/>, ADR 0010). Every method is one turn, run by
/// the shard grain that hosts it one at a time, so none of this needs locks; no method waits on another shard.
/// </summary>
internal sealed class Shard
{
    private readonly BucketIndex _buckets;
    private readonly Dictionary<string, HomeRecord> _byExternalId = new(StringComparer.Ordinal);

    // Taken by the turns' writes of _byExternalId and by reads outside the turns (FindConcurrently); the turns read without it.
    private readonly Lock _byExternalIdWrites = new();

    // Concurrent: written in the shard's turns, read also outside them by this silo's checks and lookups (FindMatchable).
    private readonly ConcurrentDictionary<long, HomeRecord> _byId = new();

    // Concurrent, as the records: finds read the forests outside the shard's turns (see Ascend).
    private readonly ConcurrentDictionary<long, long>[] _parents;

    // Per rung, the clusters whose roots are homed here (changed and read in turns only).
    private readonly ClusterIndex[] _clusters;

    // Acknowledged duplicates among the records: kept as they change, so that stats need no scan (read outside turns too).
    private volatile int _duplicates;

    // Vectors homed here that were deleted: gone from the records, kept in the forests as ghosts (ADR 0005).
    private readonly HashSet<long> _deleted = [];

    // Deletions begun and not yet ended, completed when they end.
    private readonly Dictionary<long, TaskCompletionSource> _deleting = [];
    private readonly VectorIdGenerator _ids;
    private readonly TimeProvider _time;

    /// <summary>A shard with nothing in it yet, whose buckets name their members in the silo's <paramref name="directory"/>.</summary>
    public Shard(int index, int rungs, TimeProvider time, VectorDirectory directory)
    {
        Index = index;
        _buckets = new BucketIndex(directory);
        _time = time;
        _ids = new VectorIdGenerator(index, time);
        _parents = new ConcurrentDictionary<long, long>[rungs];
        _clusters = new ClusterIndex[rungs];
        for (var r = 0; r < rungs; r++)
        {
            _parents[r] = new();
            _clusters[r] = new();
        }
    }

    /// <summary>
    /// How long after its registration an insert that was never acknowledged nor forgotten blocks its id. Past it, a
    /// resend takes the id over: the registration is an orphan — its coordinator gave up on a registration call that
    /// then ran late (a shard still loading when the call timed out), or died after registering here from another silo.
    /// Far above any batch's time from registration to commit; should the first insert still commit, the store's unique
    /// external id refuses the second commit, and its coordinator reloads this shard from what is durable.
    /// </summary>
    public static readonly TimeSpan OrphanAfter = TimeSpan.FromMinutes(5);

    public int Index { get; }

    // Checks whose candidates' records are found, and projections fetched, together before they are screened.
    private const int VerifyWindow = 16;

    // How many bucket operations ahead RunBucketOperations fetches map slots (and half as many, runs): enough to cover a
    // miss to memory.
    private const int PrefetchDistance = 8;

    /// <summary>The ownership epoch this process holds; every write of the shard is fenced by it.</summary>
    public long Epoch { get; set; }

    /// <summary>
    /// Registers each vector at its home, or finds it already registered (a re-send, perhaps still in flight).
    /// An external id appearing twice in <paramref name="items"/> is registered once.
    /// </summary>
    public HomeRecord[] Register(IReadOnlyList<Registration> items, out bool[] isNew)
    {
        var records = new HomeRecord[items.Count];
        isNew = new bool[items.Count];
        var now = _time.GetUtcNow();
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            if (_byExternalId.TryGetValue(item.ExternalId, out var existing))
            {
                if (existing.IsAcknowledged || existing.Deletion is not null || now - existing.InsertedAt < OrphanAfter)
                {
                    records[i] = existing;
                    continue;
                }

                // An orphan: its waiters learn why, and it stays a ghost in the forests (see Unregister).
                Unregister([existing.Id], new InvalidOperationException(
                    $"its insert was registered at {existing.InsertedAt:O} and never finished; a later request took the id over"));
            }

            var record = new HomeRecord(_ids.Next(), item.ExternalId, item.Values, item.SquaredNorm, item.Projection, now);
            lock (_byExternalIdWrites)
            {
                _byExternalId.Add(item.ExternalId, record);
            }

            if (!_byId.TryAdd(record.Id, record))
            {
                throw new InvalidOperationException($"shard {Index}: vector id {record.Id} was issued twice");
            }

            records[i] = record;
            isNew[i] = true;
        }

        return records;
    }

    /// <summary>
    /// Runs bucket operations in order: a lookup collects the members of a bucket (sketch-filtered) as candidates of
    /// its vector; an insert adds the vector to its bucket (after the lookup, when an operation does both). Because the shard runs one turn at a time and the
    /// operations in order, of two near-duplicates the one whose operations run second sees the first.
    /// </summary>
    /// <returns>The candidates, in a pooled list the caller returns.</returns>
    public PooledList<Candidate> RunBucketOperations(ReadOnlySpan<BucketOperation> operations, int maxHamming)
    {
        var found = new PooledList<Candidate>();
        var (vector, handle) = (0L, -1); // a vector's operations come together: its handle is looked up once
        for (var i = 0; i < Math.Min(PrefetchDistance, operations.Length); i++)
        {
            _buckets.Prefetch(operations[i].Key);
        }

        for (var i = 0; i < operations.Length; i++)
        {
            ref readonly var op = ref operations[i];

            // A pipeline of the walk's three dependent misses: the map slot of the operation eight ahead, the run of the
            // one four ahead (its slot has arrived), the members' directory entries of the next but one.
            if (i + PrefetchDistance < operations.Length)
            {
                _buckets.Prefetch(operations[i + PrefetchDistance].Key);
            }

            if (i + (PrefetchDistance / 2) < operations.Length && operations[i + (PrefetchDistance / 2)].Lookup)
            {
                _buckets.PrefetchMembers(operations[i + (PrefetchDistance / 2)].Key, entries: false);
            }

            if (i + 2 < operations.Length && operations[i + 2].Lookup)
            {
                _buckets.PrefetchMembers(operations[i + 2].Key, entries: true);
            }

            if (op.Lookup)
            {
                _buckets.Collect(op.Key, op.SketchLow, op.SketchHigh, maxHamming, op.VectorId, op.Item, found);
            }

            if (op.Insert)
            {
                if (handle < 0 || vector != op.VectorId)
                {
                    (vector, handle) = (op.VectorId, _buckets.Directory.HandleOf(op.VectorId, op.SketchLow, op.SketchHigh));
                }

                _buckets.Add(op.Key, handle);
            }
        }

        return found;
    }

    /// <summary>
    /// Fetches what a <see cref="LookUp"/> of <paramref name="lookups"/> will read, one step of the walk at a time across
    /// all shards of a query (see <see cref="BucketIndex.Prefetch"/>): step 0 the map slots, 1 the runs, 2 the members'
    /// directory entries. Safe outside the shard's turns, as a lookup is.
    /// </summary>
    public void Prefetch(ReadOnlySpan<BucketOperation> lookups, int step)
    {
        if (step == 0)
        {
            foreach (ref readonly var op in lookups)
            {
                _buckets.Prefetch(op.Key);
            }

            return;
        }

        using var reading = _buckets.Reading();
        foreach (ref readonly var op in lookups)
        {
            _buckets.PrefetchMembers(op.Key, entries: step == 2);
        }
    }

    /// <summary>
    /// The members of buckets (sketch-filtered) as candidates, for lookups that insert nothing (a near-duplicate query):
    /// safe outside the shard's turns (see <see cref="BucketIndex"/>), so a query reads the shards of its process in place.
    /// </summary>
    /// <exception cref="ArgumentException">An operation inserts.</exception>
    public PooledList<Candidate> LookUp(ReadOnlySpan<BucketOperation> lookups, int maxHamming)
    {
        var found = new PooledList<Candidate>();
        using var reading = _buckets.Reading();
        foreach (ref readonly var op in lookups)
        {
            if (op.Insert || !op.Lookup)
            {
                throw new ArgumentException("a lookup outside the shard's turns only looks up", nameof(lookups));
            }

            _buckets.Collect(op.Key, op.SketchLow, op.SketchHigh, maxHamming, op.VectorId, op.Item, found);
        }

        return found;
    }

    /// <summary>
    /// Exact cosines between new vectors and candidates homed here; keeps those at or above <paramref name="lowestRung"/>.
    /// A candidate whose projected cosine is below <paramref name="screen"/> is rejected without reading its vector.
    /// Reads only what is safe outside the shard's turns (see <see cref="FindMatchable"/>): this silo's verification
    /// calls it directly.
    /// </summary>
    /// <param name="queries">The new vectors' headers.</param>
    /// <param name="values">Per query, its floats (little-endian bytes).</param>
    /// <param name="projections">Per query, its projection's floats.</param>
    /// <param name="checks">(query index, candidate) pairs; a query's checks one after another read its floats once.</param>
    /// <param name="lowestRung">Edges below it are dropped.</param>
    /// <param name="screen">The projected cosine below which a candidate is rejected unread.</param>
    public List<FoundEdge> Verify(ReadOnlySpan<QueryHeader> queries, ReadOnlyMemory<byte>[] values, ReadOnlyMemory<byte>[] projections,
        ReadOnlySpan<PackedCheck> checks, float lowestRung, float screen)
    {
        var edges = new List<FoundEdge>();

        // A view of a message's bytes costs a virtual call to make: once per query, not per check.
        var viewed = -1;
        ReadOnlySpan<float> projection = default, floats = default;

        // Windows of checks, their candidates found and projections fetched first, as in this silo's own checks.
        var window = new HomeRecord?[Math.Min(VerifyWindow, checks.Length)];
        for (var start = 0; start < checks.Length; start += window.Length)
        {
            var part = checks.Slice(start, Math.Min(window.Length, checks.Length - start));
            FindCandidates(part, window);
            for (var j = 0; j < part.Length; j++)
            {
                ref readonly var check = ref part[j];
                if (window[j] is not { } candidate)
                {
                    continue;
                }

                if ((uint)check.Query >= (uint)queries.Length)
                {
                    throw new InvalidDataException($"verify: a check names query {check.Query} of {queries.Length}");
                }

                ref readonly var query = ref queries[check.Query];
                if (check.Query != viewed)
                {
                    viewed = check.Query;
                    projection = NumberBytes.View<float>(projections[viewed]);
                    floats = NumberBytes.View<float>(values[viewed]);
                }

                var cosine = CandidateCheck.Cosine(floats, query.SquaredNorm, projection, query.ProjectionSquaredNorm, candidate, screen);
                if (cosine >= lowestRung)
                {
                    edges.Add(new FoundEdge(query.Item, query.VectorId, candidate.Id, cosine));
                }
            }
        }

        return edges;
    }

    /// <summary>
    /// <see cref="Verify(ReadOnlySpan{QueryHeader}, ReadOnlyMemory{byte}[], ReadOnlyMemory{byte}[], ReadOnlySpan{PackedCheck}, float, float)"/>
    /// for queries of this process, called outside the shard's turns: adds the edges found to <paramref name="edges"/>.
    /// </summary>
    public void Verify(ReadOnlySpan<Verification> checks, float lowestRung, float screen, List<FoundEdge> edges)
    {
        // A window at a time: its candidates' records found and their projections asked for first, then screened, so
        // that the misses to memory of a window overlap instead of each check waiting for its own.
        var window = new HomeRecord?[Math.Min(VerifyWindow, checks.Length)];
        for (var start = 0; start < checks.Length; start += window.Length)
        {
            var part = checks.Slice(start, Math.Min(window.Length, checks.Length - start));
            FindCandidates(part, window);
            for (var j = 0; j < part.Length; j++)
            {
                var query = part[j].Query;
                if (window[j] is { } candidate
                    && CandidateCheck.Cosine(query.Values, query.SquaredNorm, query.Projection, query.ProjectionSquaredNorm, candidate, screen) is var cosine
                    && cosine >= lowestRung)
                {
                    edges.Add(new FoundEdge(query.Item, query.VectorId, candidate.Id, cosine));
                }
            }
        }
    }

    /// <summary>
    /// Into <paramref name="window"/>, the matchable record of each check's candidate, its projection asked for from
    /// memory: a window's lookups and misses overlap before any check waits for one.
    /// </summary>
    private void FindCandidates<T>(ReadOnlySpan<T> checks, HomeRecord?[] window)
        where T : struct, ICandidateCheck
    {
        for (var j = 0; j < checks.Length; j++)
        {
            if ((window[j] = FindMatchable(checks[j].CandidateId)) is { } candidate)
            {
                CandidateCheck.Prefetch(candidate);
            }
        }
    }

    /// <summary>
    /// Follows parent pointers at rung <paramref name="rung"/> from <paramref name="id"/> while they stay on this
    /// shard. Returns the root (IsRoot) or the first ancestor homed elsewhere, where the caller continues. Safe outside
    /// the shard's turns: a pointer is only ever added (by a link), so a find that races a link sees the forest as it
    /// was before or after it, as a find made of turns does.
    /// </summary>
    public (long Node, bool IsRoot) Ascend(long id, int rung)
    {
        var parents = _parents[rung];
        var node = id;
        while (VectorId.HomeShard(node) == Index)
        {
            if (!parents.TryGetValue(node, out var parent))
            {
                return (node, true);
            }

            node = parent;
        }

        return (node, false);
    }

    /// <summary>
    /// Compare-and-set link: makes <paramref name="parent"/> the parent of <paramref name="child"/> only if
    /// <paramref name="child"/> is still a root. Parents are always smaller ids, so no cycle can form.
    /// </summary>
    public bool Link(long child, long parent, int rung)
    {
        if (parent >= child)
        {
            throw new InvalidOperationException($"link {child} → {parent}: a parent must be an older (smaller) id");
        }

        return _parents[rung].TryAdd(child, parent);
    }

    public bool IsRoot(long id, int rung) => !_parents[rung].ContainsKey(id);

    /// <summary>
    /// <see cref="Link"/>, and when it links, the members of <paramref name="child"/>'s cluster, taken from here: the
    /// caller hands them to <paramref name="parent"/>'s home (<see cref="Absorb"/>). Null when it did not link.
    /// </summary>
    public MemberTransfer? LinkAndTake(long child, long parent, int rung) =>
        Link(child, parent, rung) ? _clusters[rung].Take(child, IsStored(child)) : null;

    /// <summary>
    /// Adds the members of a root linked under <paramref name="root"/> (homed here) to its cluster; false (nothing done)
    /// when <paramref name="root"/> is no longer a root: the caller finds its root and sends them there.
    /// </summary>
    public bool Absorb(long root, int rung, ReadOnlySpan<long> members, ReadOnlySpan<long> tombstones)
    {
        if (!IsRootHere(root, rung))
        {
            return false;
        }

        _clusters[rung].Absorb(root, IsStored(root), members, tombstones);
        return true;
    }

    /// <summary>Removes deleted <paramref name="member"/> from the cluster of <paramref name="root"/>; false when that is no longer a root.</summary>
    public bool RemoveMember(long root, int rung, long member)
    {
        if (!IsRootHere(root, rung))
        {
            return false;
        }

        _clusters[rung].Remove(root, IsStored(root), member);
        return true;
    }

    /// <summary>
    /// A page of the cluster whose root is <paramref name="root"/> (homed here; see <see cref="ClusterIndex.Page"/>); null
    /// when it is not a root. A root no member of which is stored (a deleted vector alone) has none. Safe outside the
    /// shard's turns.
    /// </summary>
    public ClusterPage? Page(long root, int rung, long after, int skip, int take, int sample)
    {
        if (!IsRootHere(root, rung))
        {
            return null;
        }

        if (_clusters[rung].Page(root, after, skip, take, sample) is { } page)
        {
            return page;
        }

        return IsStored(root) ? new ClusterPage(1, root, root > after && skip <= 0 && take > 0 ? [root] : [], sample > 0 ? [root] : []) : new ClusterPage(0, 0, [], []);
    }

    /// <summary>The canonical (first) member of the cluster rooted at <paramref name="root"/> (homed here). Safe outside turns.</summary>
    public long Canonical(long root, int rung) => _clusters[rung].Canonical(root);

    /// <summary>Every cluster of two or more members rooted here, with its members in id order.</summary>
    public List<(long Root, IReadOnlyList<long> Members)> Clusters(int rung) => _clusters[rung].All();

    /// <summary>Posts this shard's clusters to the process's <paramref name="board"/> (its activation here begins), and their changes from now on.</summary>
    public void Publish(ClusterBoard board)
    {
        for (var r = 0; r < _clusters.Length; r++)
        {
            _clusters[r].Publish(board, r);
        }
    }

    /// <summary>Takes this shard's clusters off the board (its activation here ends).</summary>
    public void Withdraw()
    {
        foreach (var clusters in _clusters)
        {
            clusters.Withdraw();
        }
    }

    // At load, before the grain takes calls: stored member of the cluster of root (homed here), in ascending id order.
    public void LoadClusterMember(long root, int rung, long member, bool rootStored) => _clusters[rung].Load(root, rootStored, member);

    private bool IsRootHere(long root, int rung) =>
        VectorId.HomeShard(root) == Index ? IsRoot(root, rung)
            : throw new InvalidOperationException($"shard {Index} asked about the cluster of {root}, which is homed at shard {VectorId.HomeShard(root)}");

    // Stored, or on its way to be (registered): a member of its cluster. Deleted and forgotten vectors are ghosts.
    private bool IsStored(long id) => _byId.ContainsKey(id);

    /// <summary>Every bucket entry this shard holds.</summary>
    public IEnumerable<BucketEntry> BucketEntries() => _buckets.Entries();

    public HomeRecord? Find(string externalId) => _byExternalId.GetValueOrDefault(externalId);

    /// <summary>
    /// <see cref="Find(string)"/> outside the shard's turns (a question from this silo, which need not queue behind a
    /// batch's calls): sees the shard as it was before or after any turn.
    /// </summary>
    public HomeRecord? FindConcurrently(string externalId)
    {
        lock (_byExternalIdWrites)
        {
            return _byExternalId.GetValueOrDefault(externalId);
        }
    }

    public HomeRecord? Find(long id) => _byId.GetValueOrDefault(id);

    /// <summary>
    /// The record of <paramref name="id"/> if it is homed here and not being deleted: what a check may compare with.
    /// Safe outside the shard's turns (the records are a concurrent dictionary, the deletion mark volatile); a read that
    /// races a turn sees the shard as it was before or after it, as a verification turn would.
    /// </summary>
    public HomeRecord? FindMatchable(long id) => _byId.TryGetValue(id, out var record) && record.Deletion is null ? record : null;

    public IEnumerable<HomeRecord> Records() => _byId.Select(entry => entry.Value);

    /// <summary>
    /// Every acknowledged vector homed here at cosine ≥ <paramref name="threshold"/> to <paramref name="vector"/>, by an
    /// exact comparison with each (a recall sample). Safe outside the shard's turns.
    /// </summary>
    public void Neighbours(ReadOnlySpan<float> vector, float squaredNorm, float threshold, List<(long Id, float Cosine)> found)
    {
        foreach (var (id, r) in _byId)
        {
            if (r.IsAcknowledged && r.Deletion is null
                && VectorMath.Cosine(VectorMath.Dot(r.Values, vector), r.SquaredNorm, squaredNorm) is var cosine && cosine >= threshold)
            {
                found.Add((id, cosine));
            }
        }
    }

    /// <summary>
    /// The exact cosine of each of <paramref name="ids"/> (homed here) to <paramref name="to"/>; NaN for one not stored.
    /// Safe outside the shard's turns (records are found as <see cref="FindMatchable"/> finds them; values never change).
    /// </summary>
    public float[] Cosines(ReadOnlySpan<float> to, float toSquaredNorm, ReadOnlySpan<long> ids)
    {
        var cosines = new float[ids.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            cosines[i] = _byId.TryGetValue(ids[i], out var r) ? VectorMath.Cosine(VectorMath.Dot(r.Values, to), r.SquaredNorm, toSquaredNorm) : float.NaN;
        }

        return cosines;
    }

    /// <summary>
    /// The (child, parent) pointers at rung <paramref name="rung"/> (only non-roots have one), and the deleted vectors
    /// homed here, which stay in the forests but are no member of any cluster.
    /// </summary>
    public Forest Parents(int rung) => new([.. _parents[rung]], [.. _deleted]);

    /// <summary>
    /// Starts deleting vectors in one turn: each is found by external id and marked (<see cref="HomeRecord.Deletion"/>
    /// set), so that it is no longer matched; it stays findable until <see cref="EndDelete"/> runs after the deletion is
    /// durable (or failed). For each id: <see cref="DeleteStart.Started"/> with the record's id, or
    /// <see cref="DeleteStart.Busy"/> when its insert or another delete of it is still in flight (ask again once
    /// <see cref="Settled"/> completes), or <see cref="DeleteStart.NotStored"/>.
    /// </summary>
    public DeleteOutcome[] BeginDelete(IReadOnlyList<string> externalIds)
    {
        var outcomes = new DeleteOutcome[externalIds.Count];
        TaskCompletionSource? done = null;
        for (var i = 0; i < externalIds.Count; i++)
        {
            if (_byExternalId.GetValueOrDefault(externalIds[i]) is not { } record)
            {
                outcomes[i] = new DeleteOutcome(0, DeleteStart.NotStored);
                continue;
            }

            if (!record.IsAcknowledged || record.Deletion is not null)
            {
                outcomes[i] = new DeleteOutcome(record.Id, DeleteStart.Busy);
                continue;
            }

            done ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            record.Deletion = done.Task;
            _deleting[record.Id] = done;
            outcomes[i] = new DeleteOutcome(record.Id, DeleteStart.Started);
        }

        return outcomes;
    }

    /// <summary>
    /// Ends deletions begun by <see cref="BeginDelete"/>: once durable (<paramref name="committed"/>), the vectors are
    /// forgotten and their ids stay in the forests as ghosts; otherwise they are unmarked and matched again.
    /// </summary>
    public void EndDelete(IEnumerable<long> ids, bool committed)
    {
        foreach (var id in ids)
        {
            if (!_byId.TryGetValue(id, out var record) || !_deleting.Remove(id, out var done))
            {
                continue;
            }

            if (committed)
            {
                _byId.TryRemove(id, out _);
                Forgotten(record);
                lock (_byExternalIdWrites)
                {
                    _byExternalId.Remove(record.ExternalId);
                }

                _deleted.Add(id);
            }
            else
            {
                record.Deletion = null;
            }

            done.TrySetResult();
        }
    }

    /// <summary>Completes once nothing is in flight for these vectors (their inserts acknowledged or failed, their deletes ended).</summary>
    public Task Settled(IEnumerable<long> ids) =>
        Task.WhenAll(ids.Select(id => _byId.GetValueOrDefault(id) is { } r ? (r.Deletion ?? r.Verdict) : Task.CompletedTask))
            .ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>
    /// Ends every wait on this shard before its activation goes (a reload): a verdict not yet acknowledged fails with
    /// <paramref name="reason"/> (its batch cannot commit under this activation's epoch any more, or if it did, the next
    /// activation loads it acknowledged: the waiter's caller sends again and gets it), and a delete under way counts as
    /// settled (its waiter asks again). A wait left pending would keep the activation busy, and the reload waiting.
    /// </summary>
    public void ReleaseWaiters(Exception reason)
    {
        foreach (var (_, record) in _byId)
        {
            if (!record.IsAcknowledged)
            {
                record.Fail(reason);
            }
        }

        foreach (var done in _deleting.Values)
        {
            done.TrySetResult();
        }
    }

    /// <summary>Whether a vector registered here waits for its insert's commit (a scan: asked when a silo dies).</summary>
    public bool HasUnacknowledged()
    {
        foreach (var (_, record) in _byId)
        {
            if (!record.IsAcknowledged)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Vectors homed here and, of them, those given a duplicate verdict (acknowledged ones only): counters, no scan. Safe
    /// outside the shard's turns (a read racing a turn may be one off).
    /// </summary>
    public (int Vectors, int Duplicates) Counts() => (_byExternalId.Count, _duplicates);

    /// <summary>Records the durable verdict of a vector registered here (after its commit) and releases its waiters.</summary>
    public void Acknowledge(long id, StoredVerdict verdict)
    {
        if (Find(id) is { } record)
        {
            Forgotten(record); // a verdict acknowledged again counts once
            record.Acknowledge(verdict);
            _duplicates += verdict.IsDuplicate ? 1 : 0;
        }
    }

    // A record leaves (deleted or forgotten): the duplicates it counted go with it.
    private void Forgotten(HomeRecord record) => _duplicates -= record.IsAcknowledged && record.AcknowledgedVerdict.IsDuplicate ? 1 : 0;

    /// <summary>At the end of a load (verdicts re-derived), counts the duplicates once.</summary>
    public void CountAfterLoad() => _duplicates = _byId.Count(r => r.Value.IsAcknowledged && r.Value.AcknowledgedVerdict.IsDuplicate);

    /// <summary>
    /// Forgets vectors whose insert failed before it was acknowledged (their verdicts fail). Each stays a ghost in the
    /// forests, as a deleted vector does: a concurrent batch may have linked its cluster through it (and committed the
    /// edge), and a ghost is a member of no cluster but can still name one. The engine records it in the store too
    /// (<c>IDedupStore.RecordGhostsAsync</c>), so that a reload keeps the same forests.
    /// </summary>
    public void Unregister(IReadOnlyList<long> ids, Exception error)
    {
        foreach (var id in ids)
        {
            // A ghost even where it was never registered (an activation that replaced the one that registered it).
            _deleted.Add(id);
            if (_byId.TryRemove(id, out var record))
            {
                Forgotten(record);
                lock (_byExternalIdWrites)
                {
                    _byExternalId.Remove(record.ExternalId);
                }

                record.Fail(error);
            }
        }
    }

    // Loading, before the grain takes calls: no turns needed.
    public void LoadRecord(HomeRecord record)
    {
        _byExternalId.Add(record.ExternalId, record);
        if (!_byId.TryAdd(record.Id, record))
        {
            throw new InvalidDataException($"shard {Index}: vector {record.Id} loaded twice");
        }

        _ids.Observe(record.Id);
    }

    public void LoadDeleted(long id)
    {
        _deleted.Add(id);
        _ids.Observe(id);
    }

    public void LoadBucketEntry(ulong key, long id, ulong sketchLow, ulong sketchHigh) => _buckets.Add(key, id, sketchLow, sketchHigh);
}

/// <summary>A shard's part of the union-find forest at one rung: its parent pointers and its deleted (ghost) vectors.</summary>
internal readonly record struct Forest(KeyValuePair<long, long>[] Parents, long[] Deleted);

/// <summary>Whether a delete started for a vector, and if not, why.</summary>
internal enum DeleteStart : byte
{
    /// <summary>No vector of that id is stored.</summary>
    NotStored,

    /// <summary>Marked: no longer matched, removed when the deletion ends.</summary>
    Started,

    /// <summary>Its insert or another delete is still in flight: ask again once it settles.</summary>
    Busy,
}

/// <summary>The outcome of <see cref="Shard.BeginDelete"/> for one id: the vector's id (0 when not stored) and what happened.</summary>
internal readonly record struct DeleteOutcome(long Id, DeleteStart Start);

/// <summary>A vector to register at its home.</summary>
internal readonly record struct Registration(string ExternalId, float[] Values, float SquaredNorm, float[] Projection);

/// <summary>A bucket lookup (collect candidates), insert, or both (lookup first) for the vector at <c>Item</c> of a batch.</summary>
internal readonly record struct BucketOperation(int Item, long VectorId, ulong Key, ulong SketchLow, ulong SketchHigh, bool Lookup, bool Insert);

/// <summary>A candidate found for the vector at <c>Item</c> of a batch.</summary>
internal readonly record struct Candidate(int Item, long CandidateId);

/// <summary>
/// A new vector to compare with candidates, in this process: shared by all its checks, so that a check is 16 bytes.
/// </summary>
internal sealed record VerifyQuery(int Item, long VectorId, float[] Values, float SquaredNorm, float[] Projection, float ProjectionSquaredNorm)
{
    private ReadOnlyMemory<byte>? _valueBytes;
    private ReadOnlyMemory<byte>? _projectionBytes;

    /// <summary>The values as bytes for a message (<see cref="NumberBytes"/>): the array itself, not a copy.</summary>
    public ReadOnlyMemory<byte> ValueBytes => _valueBytes ??= NumberBytes.Bytes(Values);

    /// <summary>The projection as bytes for a message.</summary>
    public ReadOnlyMemory<byte> ProjectionBytes => _projectionBytes ??= NumberBytes.Bytes(Projection);
}

/// <summary>An exact-cosine check between a new vector and a candidate homed at the shard.</summary>
internal readonly record struct Verification(VerifyQuery Query, long CandidateId) : ICandidateCheck
{
    public int Item => Query.Item;

    public long VectorId => Query.VectorId;
}

/// <summary>A verified edge found for the vector at <c>Item</c> of a batch.</summary>
internal readonly record struct FoundEdge(int Item, long VectorId, long OtherId, float Cosine);

/// <summary>A check of one candidate, whichever way it came (<see cref="Verification"/> in this silo, <see cref="PackedCheck"/> in a message).</summary>
internal interface ICandidateCheck
{
    /// <summary>The candidate's vector id.</summary>
    long CandidateId { get; }
}
