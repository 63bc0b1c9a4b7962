using Orleans.Runtime.Placement;

namespace LshCluster.Grains.Placement;

/// <summary>
/// Chooses the silo of a shard grain's new activation — at its first call, after its silo died, or when it migrates
/// because the silos changed: the owner <see cref="ShardPlacementTable"/> gives the shard among the silos Orleans
/// lists as compatible.
/// </summary>
internal sealed class ShardPlacementDirector(ShardPlacementTable table) : IPlacementDirector
{
    /// <inheritdoc />
    public async Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silos = context.GetCompatibleSilos(target);
        var shard = target.GrainIdentity.GetIntegerKey();
        var owners = await table.OwnersAsync(silos).ConfigureAwait(false);

        // Not a shard of this cluster: the activation itself refuses it; placing it anywhere is harmless.
        return shard >= 0 && shard < owners.Length ? owners[shard] : silos[0];
    }
}
