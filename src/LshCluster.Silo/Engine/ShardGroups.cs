using LshCluster.Grains.Shards;

namespace LshCluster.Silo.Engine;

/// <summary>
/// A batch's items grouped by shard with a counting sort into one pooled array: a run per shard, the items in their
/// original order within each run (the order in which a shard must apply bucket operations). One array per batch
/// instead of a growing list per shard.
/// </summary>
internal static class ShardGroups
{
    /// <param name="items">The items.</param>
    /// <param name="shards">The shard of each item, in 0 … <paramref name="shardCount"/> - 1.</param>
    /// <param name="shardCount">The number of groups.</param>
    /// <returns>The items by shard (return it to the pool), and where each shard's run starts (and the last ends).</returns>
    public static (PooledList<T> Sorted, int[] Starts) Sort<T>(PooledList<T> items, PooledList<int> shards, int shardCount)
        where T : struct
    {
        var of = shards.Span;
        var starts = new int[shardCount + 1];
        foreach (var shard in of)
        {
            starts[shard + 1]++;
        }

        for (var s = 0; s < shardCount; s++)
        {
            starts[s + 1] += starts[s];
        }

        var sorted = new PooledList<T>(items.Count);
        sorted.SetCount(items.Count);
        var next = starts[..shardCount];
        var from = items.Span;
        var to = sorted.Span;
        for (var i = 0; i < from.Length; i++)
        {
            to[next[of[i]]++] = from[i];
        }

        return (sorted, starts);
    }

    /// <summary>The non-empty runs of <see cref="Sort"/>'s result, as segments of its array.</summary>
    public static IEnumerable<(int Shard, ArraySegment<T> Run)> Runs<T>(PooledList<T> sorted, int[] starts)
        where T : struct
    {
        var all = sorted.Segment;
        for (var s = 0; s + 1 < starts.Length; s++)
        {
            if (starts[s + 1] > starts[s])
            {
                yield return (s, all.Slice(starts[s], starts[s + 1] - starts[s]));
            }
        }
    }
}
