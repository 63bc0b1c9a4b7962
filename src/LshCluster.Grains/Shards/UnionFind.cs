namespace LshCluster.Grains.Shards;

/// <summary>
/// A sequential union-find whose root is always the smallest id of its component — the same forest the shards'
/// compare-and-set protocol builds. Used to rebuild the forests at load and as the reference in tests.
/// </summary>
internal sealed class UnionFind
{
    private readonly Dictionary<long, long> _parent = [];

    /// <summary>The root (smallest id) of <paramref name="x"/>'s component.</summary>
    public long Find(long x)
    {
        var root = x;
        while (_parent.TryGetValue(root, out var p))
        {
            root = p;
        }

        // Path compression keeps later finds short; every pointer still goes to a smaller id.
        while (_parent.TryGetValue(x, out var p) && p != root)
        {
            _parent[x] = root;
            x = p;
        }

        return root;
    }

    /// <summary>Joins the components of <paramref name="a"/> and <paramref name="b"/>.</summary>
    public void Union(long a, long b)
    {
        var ra = Find(a);
        var rb = Find(b);
        if (ra != rb)
        {
            _parent[Math.Max(ra, rb)] = Math.Min(ra, rb);
        }
    }

    /// <summary>Every non-root with its root.</summary>
    public IEnumerable<(long Child, long Root)> NonRoots() => [.. _parent.Keys.Select(k => (k, Find(k)))];
}
