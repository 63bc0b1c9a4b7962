using System.Collections.Concurrent;
using LshCluster.Grains.Shards;

namespace LshCluster.Grains.Placement;

/// <summary>
/// The shards whose grain is active on this silo (each activation adds itself and removes itself when it ends), with
/// the state each hosts, so that this silo's verification reads the home records of its shards without a grain call
/// per shard (<see cref="Shard.FindMatchable"/>: those reads are safe outside the shards' turns).
/// </summary>
internal sealed class LocalShards
{
    private readonly ConcurrentDictionary<int, Shard> _active = new();

    /// <summary>Records that <paramref name="shard"/> is active here.</summary>
    public void Add(Shard shard) => _active[shard.Index] = shard;

    /// <summary>Records that <paramref name="shard"/>'s activation here has ended (a newer activation of its index stays).</summary>
    public void Remove(Shard shard) => _active.TryRemove(new KeyValuePair<int, Shard>(shard.Index, shard));

    /// <summary>The shard of index <paramref name="index"/> if its grain is active here.</summary>
    public Shard? Find(int index) => _active.GetValueOrDefault(index);

    /// <summary>The shards active here now.</summary>
    public int[] Snapshot() => [.. _active.Keys];
}
