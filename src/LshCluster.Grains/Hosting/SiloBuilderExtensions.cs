using LshCluster.Grains.Placement;
using LshCluster.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace LshCluster.Grains.Hosting;

/// <summary>What a silo needs to host shard grains.</summary>
public static class SiloBuilderExtensions
{
    /// <summary>
    /// Hosts the shard grains of the cluster kept in the store <paramref name="store"/> creates (one per silo, shared by
    /// its grains), placed by <see cref="ShardPlacement"/> and moved when the silos change.
    /// </summary>
    public static ISiloBuilder AddLshClusterShards(this ISiloBuilder silo, Func<IServiceProvider, IDedupStore> store)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(store);
        silo.Services.AddSingleton(store);
        silo.Services.AddSingleton<ShardPlacementTable>();
        silo.Services.AddSingleton<LocalShards>();
        silo.Services.AddPlacementDirector<ShardPlacement, ShardPlacementDirector>();
        silo.Services.AddSingleton<ShardRebalancer>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<ShardRebalancer>());
        return silo;
    }
}
