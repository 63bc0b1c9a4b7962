using LshCluster.Grains.Placement;

namespace LshCluster.Grains.Tests.Placement;

public sealed class RendezvousPlacementTests
{
    private static List<string> Silos(int n, int seed) =>
        [.. Enumerable.Range(0, n).Select(i => $"http://127.0.0.1:{20000 + (seed * 97) + (i * 7919 % 40000)}")];

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(7)]
    public void Every_silo_owns_an_even_share_within_ten_percent(int n)
    {
        for (var seed = 0; seed < 20; seed++)
        {
            var silos = Silos(n, seed);
            var owners = RendezvousPlacement.Owners(1024, silos);
            Assert.All(owners, Assert.NotNull);
            var counts = silos.Select(s => owners.Count(o => o == s)).ToList();
            var even = 1024.0 / n;
            Assert.True(counts.Max() <= Math.Ceiling(even) && counts.Min() >= even * 0.9, $"seed {seed}: shares {string.Join(",", counts)}");
        }
    }

    [Fact]
    public void Same_candidates_in_any_order_give_the_same_map()
    {
        var silos = Silos(5, 1);
        var reversed = Enumerable.Reverse(silos).ToList();
        Assert.Equal(RendezvousPlacement.Owners(1024, silos), RendezvousPlacement.Owners(1024, reversed));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    public void Adding_a_silo_moves_few_shards_more_than_its_share(int n)
    {
        for (var seed = 0; seed < 20; seed++)
        {
            var before = RendezvousPlacement.Owners(1024, Silos(n, seed));
            var after = RendezvousPlacement.Owners(1024, Silos(n + 1, seed));
            var moved = before.Zip(after).Count(p => p.First != p.Second);
            var ideal = 1024.0 / (n + 1);

            // Only the newcomer's share should move; the load bound may move a few more, never a reshuffle.
            Assert.InRange(moved, (int)ideal - 1, (int)(ideal * 1.5));
        }
    }

    [Fact]
    public void Removing_a_silo_moves_only_about_its_shards()
    {
        var silos = Silos(4, 3);
        var before = RendezvousPlacement.Owners(1024, silos);
        var after = RendezvousPlacement.Owners(1024, silos.Take(3).ToList());
        var moved = before.Zip(after).Count(p => p.First != p.Second);
        Assert.InRange(moved, 255, 384);
        Assert.Null(RendezvousPlacement.Owner(0, []));
        Assert.All(RendezvousPlacement.Owners(8, []), Assert.Null);
    }

    [Fact]
    public void A_pinned_shard_goes_to_its_silo_and_the_rest_stay_balanced_and_mostly_in_place()
    {
        var silos = Silos(3, 5);
        var before = RendezvousPlacement.Owners(1024, silos);
        var moving = Enumerable.Range(0, 1024).Where(s => before[s] != silos[0]).Take(100).ToList();
        var pins = moving.ToDictionary(s => s, _ => silos[0]);

        var after = RendezvousPlacement.Owners(1024, silos, pins);

        Assert.All(moving, s => Assert.Equal(silos[0], after[s]));
        Assert.All(after, Assert.NotNull);

        // The pinned shards count towards silos[0]'s share, so it gives up about as many of its others: loads stay
        // even, and every silo still computes the same map.
        var counts = silos.Select(x => after.Count(o => o == x)).ToList();
        Assert.True(counts.Max() - counts.Min() <= 2, $"shares {string.Join(",", counts)}");
        var moved = before.Zip(after).Count(p => p.First != p.Second);
        Assert.InRange(moved, 100, 250);
        Assert.Equal(after, RendezvousPlacement.Owners(1024, Enumerable.Reverse(silos).ToList(), pins));
    }

    [Fact]
    public void Pins_to_a_silo_that_is_not_a_candidate_or_to_shards_outside_the_range_are_ignored()
    {
        var silos = Silos(3, 6);
        var pins = new Dictionary<int, string> { [5] = "http://gone:1", [-1] = silos[0], [4096] = silos[0] };

        Assert.Equal(RendezvousPlacement.Owners(1024, silos), RendezvousPlacement.Owners(1024, silos, pins));
    }

    [Fact]
    public void Pinning_more_than_a_share_to_one_silo_still_places_every_shard()
    {
        var silos = Silos(2, 7);
        var pins = Enumerable.Range(0, 900).ToDictionary(s => s, _ => silos[1]);

        var owners = RendezvousPlacement.Owners(1024, silos, pins);

        Assert.Equal(900, owners.Take(900).Count(o => o == silos[1]));
        Assert.All(owners.Skip(900), o => Assert.Equal(silos[0], o)); // silos[1] is over its share: the rest go to silos[0]
    }
}
