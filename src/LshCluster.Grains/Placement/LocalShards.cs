using System.Collections.Concurrent;
using LshCluster.Abstractions.Shards;
using LshCluster.Core.Ids;
using LshCluster.Grains.Shards;

namespace LshCluster.Grains.Placement;

/// <summary>
/// The shards whose grain is active on this silo (each activation adds itself and removes itself when it ends), with
/// the state each hosts, so that this silo's verification reads the home records of its shards without a grain call
/// per shard (<see cref="Shard.FindMatchable"/>: those reads are safe outside the shards' turns), and the board of their
/// clusters.
/// </summary>
internal sealed class LocalShards
{
    private readonly ConcurrentDictionary<int, Shard> _active = new();

    /// <summary>The clusters of the shards active here, by size and counted (each posts its own while active).</summary>
    public ClusterBoard Board { get; } = new();

    /// <summary>Records that <paramref name="shard"/> is active here.</summary>
    public void Add(Shard shard)
    {
        _active[shard.Index] = shard;
        shard.Publish(Board);
    }

    /// <summary>Records that <paramref name="shard"/>'s activation here has ended (a newer activation of its index stays).</summary>
    public void Remove(Shard shard)
    {
        _active.TryRemove(new KeyValuePair<int, Shard>(shard.Index, shard));
        shard.Withdraw();
    }

    /// <summary>The shard of index <paramref name="index"/> if its grain is active here.</summary>
    public Shard? Find(int index) => _active.GetValueOrDefault(index);

    /// <summary>The shards active here now.</summary>
    public int[] Snapshot() => [.. _active.Keys];

    /// <summary>
    /// Activates those of <paramref name="shards"/> not active here (by a call to each: a shard activates where its
    /// placement puts it), so that the board holds their clusters: a shard activates on its first call, and one that
    /// moved here, or reloaded, may have had none yet.
    /// </summary>
    public Task ActivateAsync(IGrainFactory grains, IEnumerable<int> shards) =>
        Task.WhenAll(shards.Where(s => Find(s) is null).Select(s => grains.GetGrain<IShardGrain>(s).CountsAsync()));

    /// <summary>
    /// The <paramref name="count"/> largest clusters at <paramref name="rung"/> of the shards active here, with their
    /// canonical members (read in place at the roots' shards).
    /// </summary>
    public LargestCluster[] LargestClusters(int rung, int count, int minSize) =>
        [.. Board.Largest(rung, count, minSize).Select(c => new LargestCluster(c.Root, Find(VectorId.HomeShard(c.Root))?.Canonical(c.Root, rung) ?? c.Root, c.Size))];

    /// <summary>Every acknowledged vector of the shards active here at cosine ≥ <paramref name="threshold"/> to <paramref name="vector"/> (exact).</summary>
    public List<(long Id, float Cosine)> Neighbours(float[] vector, float threshold)
    {
        var found = new List<(long Id, float Cosine)>();
        var squaredNorm = Core.Kernels.VectorMath.SquaredNorm(vector);
        foreach (var shard in _active.Values)
        {
            shard.Neighbours(vector, squaredNorm, threshold, found);
        }

        return found;
    }

    /// <summary>The vectors, duplicates and, per rung, clusters of the shards active here: counters, no scan.</summary>
    public ClusterCounters Counters(int rungs)
    {
        var (vectors, duplicates) = (0L, 0L);
        foreach (var shard in _active.Values)
        {
            var (v, d) = shard.Counts();
            (vectors, duplicates) = (vectors + v, duplicates + d);
        }

        return new ClusterCounters(vectors, duplicates, [.. Enumerable.Range(0, rungs).Select(Board.Summary)]);
    }
}
