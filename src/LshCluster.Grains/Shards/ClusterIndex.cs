namespace LshCluster.Grains.Shards;

/// <summary>
/// The clusters of one rung whose root is homed at a shard, kept as they change (issue 16): per root, its live
/// members; the sizes are posted to the process's <see cref="ClusterBoard"/> while the shard is active. A root without an entry is a
/// cluster of one (itself, when it is stored) — most vectors, which cost nothing here.
/// <para>
/// A union moves the younger root's members to the older root's entry in two steps, because the two roots may be homed
/// at different shards and no turn waits for another shard: the link's turn takes them (<see cref="Take"/>), and a
/// later turn at the older root's home adds them (<see cref="Absorb"/>). A deletion that reaches the older root in
/// between leaves a tombstone there (<see cref="Remove"/>), which the members apply when they arrive.
/// </para>
/// Changed in the shard's turns, read also outside them (this silo's questions to a shard it hosts): every method takes
/// the index's lock, which costs a few nanoseconds uncontended.
/// </summary>
internal sealed class ClusterIndex
{
    private readonly Lock _gate = new();
    private readonly Dictionary<long, Members> _byRoot = [];

    // Where this index posts its clusters' sizes while its shard is active in this process (null: not posted).
    private ClusterBoard? _board;
    private int _rung;

    /// <summary>Posts every cluster of two or more members to <paramref name="board"/> (rung <paramref name="rung"/>), and each change from now on.</summary>
    public void Publish(ClusterBoard board, int rung)
    {
        lock (_gate)
        {
            (_board, _rung) = (board, rung);
            foreach (var (root, entry) in _byRoot)
            {
                board.Post(this, rung, root, entry.Count);
            }
        }
    }

    /// <summary>Takes this index's clusters off its board (its shard's activation here ends).</summary>
    public void Withdraw()
    {
        lock (_gate)
        {
            _board?.Withdraw(this, _rung, _byRoot.Keys);
            _board = null;
        }
    }

    /// <summary>
    /// The size and canonical (first) member of <paramref name="root"/>'s cluster and its members after id
    /// <paramref name="after"/>, past <paramref name="skip"/>, at most <paramref name="take"/>, in id order; null when it
    /// has no entry: then it is a cluster of one if <paramref name="root"/> is stored, of none otherwise. With it, up to
    /// <paramref name="sample"/> members spread evenly over the cluster (all of them when it has no more).
    /// </summary>
    public ClusterPage? Page(long root, long after, int skip, int take, int sample)
    {
        lock (_gate)
        {
            if (!_byRoot.TryGetValue(root, out var entry))
            {
                return null;
            }

            var members = entry.Sorted();
            var from = members.BinarySearch(after) is var at && at >= 0 ? at + 1 : ~at;
            from = (int)Math.Min(members.Count, (long)from + Math.Max(0, skip));
            var page = members.GetRange(from, Math.Min(Math.Max(0, take), members.Count - from)).ToArray();
            var spread = members.Count <= sample
                ? members.ToArray()
                : [.. Enumerable.Range(0, Math.Max(0, sample)).Select(i => members[(int)((long)i * members.Count / sample)])];
            return new ClusterPage(members.Count, members.Count == 0 ? 0 : members[0], page, spread);
        }
    }

    /// <summary>The canonical (first) member of <paramref name="root"/>'s cluster: the root itself when it has no entry.</summary>
    public long Canonical(long root)
    {
        lock (_gate)
        {
            return _byRoot.TryGetValue(root, out var entry) && entry.Count > 0 ? entry.Sorted()[0] : root;
        }
    }

    /// <summary>Every cluster of two or more members, with its members in id order (an export).</summary>
    public List<(long Root, IReadOnlyList<long> Members)> All()
    {
        lock (_gate)
        {
            return [.. _byRoot.Where(e => e.Value.Count >= 2).Select(e => (e.Key, (IReadOnlyList<long>)[.. e.Value.Sorted()]))];
        }
    }

    /// <summary>
    /// Takes the members (and pending tombstones) of <paramref name="root"/>, just linked under another root: they move to
    /// that root's entry. <paramref name="rootLive"/>: whether the root itself is stored (a cluster of one without an entry).
    /// </summary>
    public MemberTransfer Take(long root, bool rootLive)
    {
        lock (_gate)
        {
            if (!_byRoot.Remove(root, out var members))
            {
                return new MemberTransfer(rootLive ? [root] : [], []);
            }

            Resized(root, members.Count, 0);
            return new MemberTransfer([.. members.Sorted()], [.. members.Tombstones ?? []]);
        }
    }

    /// <summary>Adds the members of a root linked under <paramref name="root"/> (see <see cref="Take"/>).</summary>
    public void Absorb(long root, bool rootLive, ReadOnlySpan<long> members, ReadOnlySpan<long> tombstones)
    {
        lock (_gate)
        {
            var entry = Entry(root, rootLive);
            var before = entry.Count;
            entry.Add(members, tombstones);
            Settle(root, entry, before);
        }
    }

    /// <summary>
    /// Removes <paramref name="member"/> (deleted) from <paramref name="root"/>'s cluster; when it is not there yet (its
    /// members are on their way, <see cref="Take"/>), leaves a tombstone that removes it on arrival.
    /// </summary>
    public void Remove(long root, bool rootLive, long member)
    {
        lock (_gate)
        {
            if (member == root && !_byRoot.ContainsKey(root))
            {
                return; // a cluster of one, which its deletion empties
            }

            var entry = Entry(root, rootLive);
            var before = entry.Count;
            entry.Remove(member);
            Settle(root, entry, before);
        }
    }

    /// <summary>At load, before any turn: <paramref name="member"/> (stored, in ascending id order) belongs to <paramref name="root"/>'s cluster.</summary>
    public void Load(long root, bool rootLive, long member)
    {
        lock (_gate)
        {
            var entry = Entry(root, rootLive);
            var before = entry.Count;
            entry.Add([member], []);
            Settle(root, entry, before);
        }
    }

    private Members Entry(long root, bool rootLive)
    {
        if (!_byRoot.TryGetValue(root, out var entry))
        {
            _byRoot[root] = entry = new Members(rootLive ? root : null);
            Resized(root, 0, entry.Count);
        }

        return entry;
    }

    // An entry that holds no more than a cluster of one would without it is dropped.
    private void Settle(long root, Members entry, int before)
    {
        if (entry.Tombstones is null && (entry.Count == 0 || (entry.Count == 1 && entry.Sorted()[0] == root)))
        {
            _byRoot.Remove(root);
        }

        Resized(root, before, entry.Count);
    }

    private void Resized(long root, int before, int after)
    {
        if (before != after && (before >= 2 || after >= 2))
        {
            _board?.Post(this, _rung, root, after);
        }
    }

    /// <summary>
    /// A cluster's live members: appended, sorted when read (new vectors have the largest ids, so appends mostly keep the
    /// order and a read rarely sorts); the smaller list is added to the larger.
    /// </summary>
    private sealed class Members
    {
        private List<long> _ids;
        private bool _sorted = true;

        public Members(long? root) => _ids = root is { } r ? [r] : [];

        public HashSet<long>? Tombstones { get; private set; }

        public int Count => _ids.Count;

        public List<long> Sorted()
        {
            if (!_sorted)
            {
                _ids.Sort();
                _sorted = true;
            }

            return _ids;
        }

        public void Add(ReadOnlySpan<long> members, ReadOnlySpan<long> tombstones)
        {
            foreach (var t in tombstones)
            {
                Remove(t);
            }

            if (members.Length > _ids.Count)
            {
                // Smaller into larger: the incoming list becomes this one, and this one's members are added to it.
                var mine = _ids;
                _ids = [.. members];
                _sorted = IsAscending(members);
                if (Tombstones is { } pending)
                {
                    _ids.RemoveAll(pending.Remove);
                }

                foreach (var m in mine)
                {
                    Append(m);
                }
            }
            else
            {
                foreach (var m in members)
                {
                    if (Tombstones?.Remove(m) != true)
                    {
                        Append(m);
                    }
                }
            }

            if (Tombstones is { Count: 0 })
            {
                Tombstones = null;
            }
        }

        private void Append(long m)
        {
            _sorted &= _ids.Count == 0 || m > _ids[^1];
            _ids.Add(m);
        }

        private static bool IsAscending(ReadOnlySpan<long> ids)
        {
            for (var i = 1; i < ids.Length; i++)
            {
                if (ids[i] <= ids[i - 1])
                {
                    return false;
                }
            }

            return true;
        }

        public void Remove(long member)
        {
            var list = Sorted();
            var at = list.BinarySearch(member);
            if (at >= 0)
            {
                list.RemoveAt(at);
            }
            else
            {
                (Tombstones ??= []).Add(member);
            }
        }
    }
}

/// <summary>The members of a root taken by a link, on their way to the entry of the root it was linked under.</summary>
internal readonly record struct MemberTransfer(long[] Members, long[] Tombstones);

/// <summary>A page of a cluster's members (ids ascending), with the cluster's size, canonical (first) member, and a sample spread over it.</summary>
internal sealed record ClusterPage(int Size, long Canonical, long[] Members, long[] Sample);

/// <summary>A cluster in the list of the largest: its root, canonical (first) member and size.</summary>
internal readonly record struct LargestCluster(long Root, long Canonical, int Size);

/// <summary>Vectors, duplicate verdicts, and per rung the clusters of two or more members.</summary>
internal sealed record ClusterCounters(long Vectors, long Duplicates, ClusterSummary[] Rungs);

/// <summary>One rung's clusters: of two or more members, their vectors, the largest, the size histogram.</summary>
internal readonly record struct ClusterSummary(int Clusters, long Clustered, int Largest, int[] Bins);
