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
}
