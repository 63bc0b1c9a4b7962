using LshCluster.Grains.Placement;
using LshCluster.Grains.Shards;
using LshCluster.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

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
        ArgumentNullException.ThrowIfNull(store);
        silo.Services.AddSingleton(store);
        return AddShardServices(silo);
    }

    /// <summary>As the other overload, over a store the caller keeps and disposes (the embedded engine's own).</summary>
    public static ISiloBuilder AddLshClusterShards(this ISiloBuilder silo, IDedupStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        silo.Services.AddSingleton(store);
        return AddShardServices(silo);
    }

    private static ISiloBuilder AddShardServices(ISiloBuilder silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        silo.Services.TryAddSingleton(TimeProvider.System);

        // A shard of a large store takes longer to load than Orleans' default 30 s allows an activation (its requests
        // time out and are retried meanwhile); an activation given up would throw its load away and the next would
        // start it again.
        silo.Configure<Orleans.Configuration.GrainCollectionOptions>(o => o.ActivationTimeout = TimeSpan.FromMinutes(10));
        silo.Services.TryAddSingleton<VectorDirectory>();
        silo.Services.AddSingleton<StoreShardSource>();
        silo.Services.TryAddSingleton<IShardSource>(sp => sp.GetRequiredService<StoreShardSource>());
        silo.Services.AddSingleton<ShardPlacementTable>();
        silo.Services.AddSingleton<LocalShards>();
        silo.Services.AddPlacementDirector<ShardPlacement, ShardPlacementDirector>();
        silo.Services.AddPlacementDirector<SiloKeyPlacement, SiloKeyPlacementDirector>();
        silo.Services.AddSingleton<ShardRebalancer>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<ShardRebalancer>());
        return silo;
    }
}
