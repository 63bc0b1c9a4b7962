using LshCluster.Grains.Placement;

namespace LshCluster.Grains.Tests.Placement;

/// <summary>
/// Shard grains on three in-process silos land where the bounded rendezvous placement of the silos' endpoints puts
/// them, so shares are even (within one shard) and every silo agrees on the owner of every shard.
/// </summary>
public sealed class ShardPlacementTests
{
    private const int Shards = 96;

    [Fact]
    public async Task Every_shard_activates_on_the_silo_the_bounded_rendezvous_placement_names()
    {
        await using var silos = await SqliteTestCluster.StartAsync(3, Shards);

        var (placed, replies) = await TestClusters.SettledPlacementAsync(silos.Cluster, Shards);
        await Task.Delay(3 * ShardRebalancer.SweepInterval);
        var (placedLater, repliesLater) = await TestClusters.SettledPlacementAsync(silos.Cluster, Shards);

        Assert.Equal(Shards, placed.Count);
        Assert.All(placed.Values.GroupBy(silo => silo), share => Assert.InRange(share.Count(), Shards / 3, (Shards + 2) / 3));
        Assert.Equal(3, placed.Values.Distinct().Count());

        // Once in place, shards stay: the same silos and activations (epochs) several sweeps later.
        Assert.Equal(placed, placedLater);
        Assert.Equal(replies.Select(r => r.Epoch), repliesLater.Select(r => r.Epoch));
    }
}
