using LshCluster.Core.Hashing;
using LshCluster.Storage.Postgres;

namespace LshCluster.Storage.Tests;

/// <summary>The membership table against a real PostgreSQL: leases judged by the database clock, claims by compare-and-set.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresMembershipStoreTests(PostgresServer server)
{
    private async Task<(PostgresMembershipStore Store, string ConnectionString)> CreateAsync(int shards = 8)
    {
        var connectionString = await server.CreateDatabaseAsync("membership");
        await using (var store = new PostgresDedupStore(connectionString))
        {
            await store.MigrateAsync();
            await store.CreateClusterAsync(new LshScheme(LshFamily.CrossPolytope, 16, 1, 2, 1, [0.9f], shardCount: shards));
        }

        return (new PostgresMembershipStore(connectionString), connectionString);
    }

    [Fact]
    public async Task A_live_owner_keeps_its_shards_and_a_lapsed_one_loses_them_with_a_new_epoch()
    {
        var (membership, _) = await CreateAsync();
        await using var _ = membership;
        // A long first lease: a loaded machine may take seconds between the join and the claim (a 1 s lease lapsed
        // there once); the lapse this test is about comes from the short renewal below.
        var a = await membership.JoinAsync("http://a:1", TimeSpan.FromSeconds(30));
        var b = await membership.JoinAsync("http://b:1", TimeSpan.FromSeconds(30));
        Assert.True(b.Generation > a.Generation);

        var claimed = await membership.TryClaimShardsAsync(a, [0, 1, 2]);
        Assert.Equal([1L, 1L, 1L], [.. claimed.OrderBy(c => c.Key).Select(c => c.Value)]);
        Assert.True(await membership.RenewAsync(a, TimeSpan.FromSeconds(2))); // alive for the next two claims, however slow the machine
        Assert.Empty(await membership.TryClaimShardsAsync(b, [0, 1]));   // a is alive: b gets nothing
        Assert.Equal(2, (await membership.TryClaimShardsAsync(a, [2, 3])).Count); // its own, and a free one

        await Task.Delay(2500); // a stops renewing: its lease lapses by the database's clock
        Assert.False(await membership.RenewAsync(a, TimeSpan.FromSeconds(1)));
        Assert.False((await membership.ReadSilosAsync()).Single(s => s.Identity == a).Alive);
        var taken = await membership.TryClaimShardsAsync(b, [0, 1, 2, 3]);
        Assert.Equal(4, taken.Count);
        Assert.Equal(2, taken[0]);  // epoch 1 → 2 fences a's writes
        Assert.Empty(await membership.TryClaimShardsAsync(a, [0])); // a lapsed silo claims nothing
        var owners = await membership.ReadShardOwnersAsync();
        Assert.All(owners.Where(o => o.Shard < 4), o => Assert.Equal(b.ToString(), o.Owner));
    }

    [Fact]
    public async Task Released_and_left_shards_are_free_and_the_silo_is_marked()
    {
        var (membership, _) = await CreateAsync();
        await using var _ = membership;
        var a = await membership.JoinAsync("http://a:1", TimeSpan.FromSeconds(30));
        var b = await membership.JoinAsync("http://b:1", TimeSpan.FromSeconds(30));
        await membership.TryClaimShardsAsync(a, [0, 1, 2, 3]);
        Assert.True(await membership.RenewAsync(a, TimeSpan.FromSeconds(30)));

        await membership.ReleaseShardsAsync(a, [0, 1]);
        await membership.ReleaseShardsAsync(b, [2]); // not b's: nothing happens
        Assert.Equal([0, 1], (await membership.TryClaimShardsAsync(b, [0, 1, 2])).Keys.Order());

        await membership.SetDrainingAsync(a);
        Assert.Equal("draining", (await membership.ReadSilosAsync()).Single(s => s.Identity == a).Status);
        await membership.LeaveAsync(a);
        var left = (await membership.ReadSilosAsync()).Single(s => s.Identity == a);
        Assert.Equal("left", left.Status);
        Assert.False(left.Alive);
        Assert.Null((await membership.ReadShardOwnersAsync()).Single(o => o.Shard == 3).Owner);
        Assert.Equal([2, 3], (await membership.TryClaimShardsAsync(b, [2, 3])).Keys.Order());
    }

    [Fact]
    public async Task Of_two_silos_claiming_the_same_free_shards_at_once_each_shard_goes_to_exactly_one()
    {
        var (membership, _) = await CreateAsync(shards: 64);
        await using var _ = membership;
        var a = await membership.JoinAsync("http://a:1", TimeSpan.FromSeconds(30));
        var b = await membership.JoinAsync("http://b:1", TimeSpan.FromSeconds(30));
        var all = Enumerable.Range(0, 64).ToList();
        var results = await Task.WhenAll(membership.TryClaimShardsAsync(a, all), membership.TryClaimShardsAsync(b, all));
        Assert.Empty(results[0].Keys.Intersect(results[1].Keys));
        Assert.Equal(64, results[0].Count + results[1].Count);
        foreach (var o in await membership.ReadShardOwnersAsync())
        {
            Assert.Equal(results[0].ContainsKey(o.Shard) ? a.ToString() : b.ToString(), o.Owner);
            Assert.Equal(1, o.Epoch);
        }
    }
}
