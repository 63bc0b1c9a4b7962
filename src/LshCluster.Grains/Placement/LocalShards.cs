using System.Collections.Concurrent;

namespace LshCluster.Grains.Placement;

/// <summary>The shards whose grain is active on this silo (each activation adds itself and removes itself when it ends).</summary>
internal sealed class LocalShards
{
    private readonly ConcurrentDictionary<int, bool> _active = new();

    /// <summary>Records that <paramref name="shard"/> is active here.</summary>
    public void Add(int shard) => _active[shard] = true;

    /// <summary>Records that <paramref name="shard"/>'s activation here has ended.</summary>
    public void Remove(int shard) => _active.TryRemove(shard, out _);

    /// <summary>The shards active here now.</summary>
    public int[] Snapshot() => [.. _active.Keys];
}
