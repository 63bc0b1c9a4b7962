namespace LshCluster.Grains.Shards;

/// <summary>
/// The clusters of two or more members rooted at the shards active in this process, per rung: sorted by size, and
/// counted. Each shard's <see cref="ClusterIndex"/> posts its sizes here while its activation is live here, so that "the
/// ten largest clusters" and the stats a dashboard polls cost one read per process, not one per shard (issue 16).
/// <para>
/// Each cluster is posted by the index that holds it. Two activations of one shard can overlap briefly (a reload, a
/// move): the last to post a root owns it, and an index that withdraws removes only what it still owns.
/// </para>
/// </summary>
internal sealed class ClusterBoard
{
    private readonly Lock _gate = new();
    private Rung[] _rungs = [];

    /// <summary>Posts the size of <paramref name="root"/>'s cluster at <paramref name="rung"/> (below two: withdrawn), as held by <paramref name="owner"/>.</summary>
    public void Post(object owner, int rung, long root, int size)
    {
        lock (_gate)
        {
            RungOf(rung).Post(owner, root, size);
        }
    }

    /// <summary>Withdraws every cluster <paramref name="owner"/> still owns at <paramref name="rung"/> among <paramref name="roots"/>.</summary>
    public void Withdraw(object owner, int rung, IEnumerable<long> roots)
    {
        lock (_gate)
        {
            foreach (var root in roots)
            {
                RungOf(rung).Withdraw(owner, root);
            }
        }
    }

    /// <summary>The clusters at <paramref name="rung"/>: how many, the vectors they hold, the largest, the size histogram.</summary>
    public ClusterSummary Summary(int rung)
    {
        lock (_gate)
        {
            return RungOf(rung).Summary;
        }
    }

    /// <summary>Up to <paramref name="count"/> clusters of at least <paramref name="minSize"/> members, largest first (ties: older first).</summary>
    public (int Size, long Root)[] Largest(int rung, int count, int minSize)
    {
        lock (_gate)
        {
            return [.. RungOf(rung).BySize.TakeWhile(c => c.Size >= minSize).Take(count)];
        }
    }

    private Rung RungOf(int rung)
    {
        if (rung >= _rungs.Length)
        {
            var grown = new Rung[rung + 1];
            _rungs.CopyTo(grown, 0);
            for (var r = _rungs.Length; r < grown.Length; r++)
            {
                grown[r] = new Rung();
            }

            _rungs = grown;
        }

        return _rungs[rung];
    }

    private sealed class Rung
    {
        private readonly Dictionary<long, (int Size, object Owner)> _posted = [];

        // Clusters per size bin (bin i: sizes 2^i + 1 … 2^(i+1)).
        private readonly int[] _bins = new int[32];
        private long _clustered;

        // Largest first, then older (smaller root) first.
        public SortedSet<(int Size, long Root)> BySize { get; } = new(Comparer<(int Size, long Root)>.Create(
            (x, y) => x.Size != y.Size ? y.Size.CompareTo(x.Size) : x.Root.CompareTo(y.Root)));

        public ClusterSummary Summary => new(BySize.Count, _clustered, BySize.Count == 0 ? 0 : BySize.Min.Size, [.. _bins]);

        public void Post(object owner, long root, int size)
        {
            if (_posted.TryGetValue(root, out var was))
            {
                Count(root, was.Size, -1);
            }

            if (size >= 2)
            {
                _posted[root] = (size, owner);
                Count(root, size, +1);
            }
            else
            {
                _posted.Remove(root);
            }
        }

        public void Withdraw(object owner, long root)
        {
            if (_posted.TryGetValue(root, out var was) && ReferenceEquals(was.Owner, owner))
            {
                Count(root, was.Size, -1);
                _posted.Remove(root);
            }
        }

        private void Count(long root, int size, int sign)
        {
            if (sign > 0)
            {
                BySize.Add((size, root));
            }
            else
            {
                BySize.Remove((size, root));
            }

            _bins[31 - int.LeadingZeroCount(size - 1)] += sign;
            _clustered += sign * size;
        }
    }
}
