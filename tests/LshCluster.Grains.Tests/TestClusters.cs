using LshCluster.Abstractions.Shards;
using LshCluster.Core.Hashing;
using LshCluster.Grains.Placement;
using LshCluster.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace LshCluster.Grains.Tests;

/// <summary>What the grain tests share: a small cluster's store, and where its shard grains are active.</summary>
internal static class TestClusters
{
    /// <summary>A small scheme of <paramref name="shards"/> shards.</summary>
    public static LshScheme Scheme(int shards) =>
        new(LshFamily.CrossPolytope, dimension: 16, hashesPerTable: 1, tables: 2, seed: 3, rungs: [0.9f], shardCount: shards);

    /// <summary>Migrates the store <paramref name="store"/> and creates a cluster of <paramref name="shards"/> shards in it.</summary>
    public static async Task CreateStoreAsync(string store, int shards)
    {
        await using var created = DedupStores.Open(store);
        await created.MigrateAsync();
        await created.CreateClusterAsync(Scheme(shards));
    }

    /// <summary>
    /// Waits until every silo of <paramref name="cluster"/> sees <paramref name="silos"/> active silos: a silo whose view
    /// lags places shards by that view (and moves them once it catches up), which a test of placement must not see.
    /// </summary>
    public static async Task WaitForViewsAsync(TestCluster cluster, int silos)
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var views = cluster.GetActiveSilos().Cast<InProcessSiloHandle>()
                .Select(h => h.SiloHost.Services.GetRequiredService<IClusterMembershipService>().CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active))
                .ToList();
            if (views.Count == silos && views.All(v => v == silos))
            {
                return;
            }

            Assert.True(DateTime.UtcNow < until, $"the silos' views of the cluster did not settle on {silos} active silos: {string.Join(", ", views)}");
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// Calls every shard until each is active where <see cref="RendezvousPlacement.Owners"/> over the active silos puts
    /// it (a shard placed by a silo whose view lagged is moved by its silo's next sweep), then returns where each is and
    /// what it answered. Fails after 30 s.
    /// </summary>
    public static async Task<(Dictionary<int, SiloAddress> Placed, AscendReply[] Replies)> SettledPlacementAsync(TestCluster cluster, int shards)
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            await Task.WhenAll(Enumerable.Range(0, shards).Select(s => cluster.GrainFactory.GetGrain<IShardGrain>(s).AscendAsync(0, 0))); // activates them
            var placed = await PlacementAsync(cluster);
            var expected = RendezvousPlacement.Owners(shards, [.. cluster.GetActiveSilos().Select(h => h.SiloAddress.Endpoint.ToString())]);
            var wrong = Enumerable.Range(0, shards).Where(s => !placed.TryGetValue(s, out var silo) || silo.Endpoint.ToString() != expected[s]).ToList();
            if (wrong.Count == 0)
            {
                // Asked once every shard is where it belongs, and kept only if none moved meanwhile: so each reply comes
                // from the activation the placement shows, not from one that was still leaving.
                var replies = await Task.WhenAll(Enumerable.Range(0, shards).Select(s => cluster.GrainFactory.GetGrain<IShardGrain>(s).AscendAsync(0, 0)));
                var again = await PlacementAsync(cluster);
                if (again.Count == placed.Count && placed.All(p => again.TryGetValue(p.Key, out var silo) && silo.Equals(p.Value)))
                {
                    return (placed, replies);
                }
            }

            Assert.True(DateTime.UtcNow < until, $"shards {string.Join(", ", wrong)} are still not where the placement puts them");
            await Task.Delay(200);
        }
    }

    /// <summary>
    /// The silo of every active shard grain, by shard. A shard caught mid-migration (its old activation still ending
    /// on one silo while the new one runs on another) is left out.
    /// </summary>
    public static async Task<Dictionary<int, SiloAddress>> PlacementAsync(TestCluster cluster) =>
        (await cluster.GrainFactory.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics())
            .Where(s => s.GrainId.Type.ToString() == "shard")
            .GroupBy(s => checked((int)s.GrainId.GetIntegerKey()))
            .Where(g => g.Count() == 1)
            .ToDictionary(g => g.Key, g => g.Single().SiloAddress);
}
