using LshCluster.Grains.Shards;
using LshCluster.Silo.Engine;

namespace LshCluster.Silo.Tests;

public sealed class ShardGroupsTests
{
    [Fact]
    public void Items_are_grouped_by_shard_in_their_original_order_within_each_shard()
    {
        var random = new Random(7);
        var items = new PooledList<int>();
        var shards = new PooledList<int>();
        var expected = new Dictionary<int, List<int>>();
        for (var i = 0; i < 5_000; i++)
        {
            var shard = random.Next(37);
            items.Add(i);
            shards.Add(shard);
            (expected.TryGetValue(shard, out var list) ? list : expected[shard] = []).Add(i);
        }

        var (sorted, starts) = ShardGroups.Sort(items, shards, 37);
        var runs = ShardGroups.Runs(sorted, starts).ToList();

        Assert.Equal(5_000, sorted.Count);
        Assert.Equal(expected.Keys.Order(), runs.Select(r => r.Shard));
        foreach (var (shard, run) in runs)
        {
            Assert.Equal(expected[shard], run);
        }

        sorted.Return();
        items.Return();
        shards.Return();
    }

    [Fact]
    public void A_pooled_list_keeps_its_elements_as_it_grows_and_is_empty_once_returned()
    {
        var list = new PooledList<Candidate>();
        for (var i = 0; i < 10_000; i++)
        {
            list.Add(new Candidate(i, i * 3L));
        }

        Assert.Equal(10_000, list.Count);
        Assert.Equal(new Candidate(9_999, 29_997), list.Span[^1]);
        Assert.True(list.Span.ToArray().Select((c, i) => c.Item == i && c.CandidateId == i * 3L).All(ok => ok));

        list.Return();
        Assert.Equal(0, list.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => list.SetCount(1));
    }
}
