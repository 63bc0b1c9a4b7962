using LshCluster.Abstractions.Shards;
using LshCluster.Core.Hashing;
using LshCluster.Grains.Placement;
using LshCluster.Storage;
using Orleans.TestingHost;

namespace LshCluster.Grains.Tests.Placement;

/// <summary>
/// Shard grains on three in-process silos land where the bounded rendezvous placement of the silos' endpoints puts
/// them, so shares are even (within one shard) and every silo agrees on the owner of every shard.
/// </summary>
public sealed class ShardPlacementTests : IAsyncLifetime
{
    private const int Shards = 96;
    private readonly string _directory = Directory.CreateTempSubdirectory("lshc-placement-").FullName;
    private TestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        var store = $"sqlite:{Path.Combine(_directory, "store.db")}";
        await using (var created = DedupStores.Open(store))
        {
            await created.MigrateAsync();
            await created.CreateClusterAsync(new LshScheme(LshFamily.CrossPolytope, dimension: 16, hashesPerTable: 1, tables: 2, seed: 3, rungs: [0.9f], shardCount: Shards));
        }

        var builder = new TestClusterBuilder(3);
        builder.Properties[ShardGrainTests.StoreKey] = store;
        builder.AddSiloBuilderConfigurator<ShardGrainTests.StoreConfigurator>();
        _cluster = builder.Build();
        await _cluster.DeployAsync();
        await _cluster.WaitForLivenessToStabilizeAsync();
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Every_shard_activates_on_the_silo_the_bounded_rendezvous_placement_names()
    {
        await Task.WhenAll(Enumerable.Range(0, Shards).Select(s => _cluster.GrainFactory.GetGrain<IShardGrain>(s).AscendAsync(0, 0)));

        var statistics = await _cluster.GrainFactory.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        var placed = statistics.Where(s => s.GrainId.Type.ToString() == "shard")
            .ToDictionary(s => checked((int)s.GrainId.GetIntegerKey()), s => s.SiloAddress.Endpoint.ToString());
        var silos = _cluster.GetActiveSilos().Select(s => s.SiloAddress.Endpoint.ToString()).ToList();
        var expected = RendezvousPlacement.Owners(Shards, silos);

        Assert.Equal(Shards, placed.Count);
        Assert.All(Enumerable.Range(0, Shards), s => Assert.Equal(expected[s], placed[s]));
        Assert.All(placed.Values.GroupBy(silo => silo), share => Assert.InRange(share.Count(), Shards / 3, (Shards + 2) / 3));
        Assert.Equal(3, placed.Values.Distinct().Count());
    }
}
