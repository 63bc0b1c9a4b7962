using Orleans.Placement;

namespace LshCluster.Grains.Placement;

/// <summary>
/// Places shard grains where the bounded rendezvous placement of the active silos puts them (ADR 0006): every silo
/// computes the same owner for a shard from the same membership, shares stay within one shard of even, and a silo
/// joining takes about 1/(N + 1) of them.
/// </summary>
[GenerateSerializer, Immutable]
public sealed class ShardPlacement : PlacementStrategy
{
    /// <summary>The one instance.</summary>
    public static ShardPlacement Instance { get; } = new();
}

/// <summary>Marks a grain placed by <see cref="ShardPlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class ShardPlacementAttribute : PlacementAttribute
{
    /// <summary>Places the grain by <see cref="ShardPlacement"/>.</summary>
    public ShardPlacementAttribute()
        : base(ShardPlacement.Instance)
    {
    }
}
