namespace LshCluster.Grains.Shards;

/// <summary>
/// The clusters of one rung whose root is homed at a shard, kept as they change (issue 16): per root, its live
/// members; per shard, the clusters by size and the counters <see cref="Summary"/> reads. A root without an entry is a
/// cluster of one (itself, when it is stored) — most vectors, which cost nothing here.
/// <para>
/// A union moves the younger root's members to the older root's entry in two steps, because the two roots may be homed
/// at different shards and no turn waits for another shard: the link's turn takes them (<see cref="Take"/>), and a
/// later turn at the older root's home adds them (<see cref="Absorb"/>). A deletion that reaches the older root in
/// between leaves a tombstone there (<see cref="Remove"/>), which the members apply when they arrive.
/// </para>
/// Not thread-safe: changed and read in the shard's turns only.
/// </summary>
internal sealed class ClusterIndex
{
    private readonly Dictionary<long, Members> _byRoot = [];

    // Clusters of two or more members, largest first, then older (smaller root) first.
    private readonly SortedSet<(int Size, long Root)> _bySize = new(Comparer<(int Size, long Root)>.Create(
        (x, y) => x.Size != y.Size ? y.Size.CompareTo(x.Size) : x.Root.CompareTo(y.Root)));

    // Clusters per size bin (bin i: sizes 2^i + 1 … 2^(i+1)).
    private readonly int[] _bins = new int[32];
    private long _clustered;

    /// <summary>The clusters of two or more members, how many vectors they hold, the largest, and the size histogram.</summary>
    public ClusterSummary Summary => new(_bySize.Count, _clustered, _bySize.Count == 0 ? 0 : _bySize.Min.Size, [.. _bins]);

    /// <summary>
    /// The members of <paramref name="root"/>'s cluster in id order (the first is the canonical member), or null when it
    /// has no entry: then it is a cluster of one if <paramref name="root"/> is stored, of none otherwise.
    /// </summary>
    public IReadOnlyList<long>? MembersOf(long root) => _byRoot.TryGetValue(root, out var members) ? members.Sorted() : null;

    /// <summary>Up to <paramref name="count"/> clusters of at least <paramref name="minSize"/> members, largest first.</summary>
    public IEnumerable<(int Size, long Root)> Largest(int count, int minSize) =>
        _bySize.TakeWhile(c => c.Size >= minSize).Take(count);

    /// <summary>Every cluster of two or more members homed here.</summary>
    public IEnumerable<long> Roots() => _bySize.Select(c => c.Root);

    /// <summary>
    /// Takes the members (and pending tombstones) of <paramref name="root"/>, just linked under another root: they move to
    /// that root's entry. <paramref name="rootLive"/>: whether the root itself is stored (a cluster of one without an entry).
    /// </summary>
    public MemberTransfer Take(long root, bool rootLive)
    {
        if (!_byRoot.Remove(root, out var members))
        {
            return new MemberTransfer(rootLive ? [root] : [], []);
        }

        Resized(root, members.Count, 0);
        return new MemberTransfer([.. members.Sorted()], [.. members.Tombstones ?? []]);
    }

    /// <summary>Adds the members of a root linked under <paramref name="root"/> (see <see cref="Take"/>).</summary>
    public void Absorb(long root, bool rootLive, ReadOnlySpan<long> members, ReadOnlySpan<long> tombstones)
    {
        var entry = Entry(root, rootLive);
        var before = entry.Count;
        entry.Add(members, tombstones);
        Settle(root, entry, before);
    }

    /// <summary>
    /// Removes <paramref name="member"/> (deleted) from <paramref name="root"/>'s cluster; when it is not there yet (its
    /// members are on their way, <see cref="Take"/>), leaves a tombstone that removes it on arrival.
    /// </summary>
    public void Remove(long root, bool rootLive, long member)
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

    /// <summary>At load, before any turn: <paramref name="member"/> (stored, in ascending id order) belongs to <paramref name="root"/>'s cluster.</summary>
    public void Load(long root, bool rootLive, long member)
    {
        var entry = Entry(root, rootLive);
        var before = entry.Count;
        entry.Add([member], []);
        Settle(root, entry, before);
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
        if (before == after)
        {
            return;
        }

        if (before >= 2)
        {
            _bySize.Remove((before, root));
            _bins[Bin(before)]--;
            _clustered -= before;
        }

        if (after >= 2)
        {
            _bySize.Add((after, root));
            _bins[Bin(after)]++;
            _clustered += after;
        }
    }

    private static int Bin(int size) => 31 - int.LeadingZeroCount(size - 1);

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

/// <summary>One rung's clusters at a shard: of two or more members, their vectors, the largest, the size histogram.</summary>
internal readonly record struct ClusterSummary(int Clusters, long Clustered, int Largest, int[] Bins);
