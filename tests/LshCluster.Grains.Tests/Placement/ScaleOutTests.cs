namespace LshCluster.Grains.Tests.Placement;

/// <summary>
/// A third silo joining two: the shards its placement gives it migrate there (a third, and at most half as many again
/// between the others, never a reshuffle), each under a new epoch, while the shards that stay keep their activation.
/// </summary>
public sealed class ScaleOutTests
{
    private const int Shards = 96;

    [Fact]
    public async Task A_joining_silo_takes_its_share_of_the_shards_and_only_those_move()
    {
        await using var silos = await SqliteTestCluster.StartAsync(2, Shards);
        var (placedBefore, before) = await TestClusters.SettledPlacementAsync(silos.Cluster, Shards);

        var joined = await silos.Cluster.StartAdditionalSiloAsync();
        await TestClusters.WaitForViewsAsync(silos.Cluster, 3);
        var (placed, after) = await TestClusters.SettledPlacementAsync(silos.Cluster, Shards);

        // The newcomer gets its even share; the load bound may shift a few more between the others (at most half as many).
        var moved = Enumerable.Range(0, Shards).Where(s => !placed[s].Equals(placedBefore[s])).ToList();
        Assert.Equal(Shards / 3, moved.Count(s => placed[s].Equals(joined.SiloAddress)));
        Assert.InRange(moved.Count, Shards / 3, Shards / 2);
        // A moved shard answers from a new activation (a new epoch); one that stayed was never reactivated.
        Assert.All(Enumerable.Range(0, Shards), s => Assert.True(moved.Contains(s) ? after[s].Epoch > before[s].Epoch : after[s].Epoch == before[s].Epoch,
            $"shard {s} ({(moved.Contains(s) ? "moved" : "stayed")}): epoch {before[s].Epoch} before, {after[s].Epoch} after"));
    }
}
