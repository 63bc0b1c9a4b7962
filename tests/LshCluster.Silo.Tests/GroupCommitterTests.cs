using LshCluster.Core.Hashing;
using LshCluster.Silo.Engine;
using LshCluster.Storage;

namespace LshCluster.Silo.Tests;

/// <summary>
/// The group committer over a real SQLite store: a batch refused by a fence fails alone on a coordinator (the others
/// commit, and so do later ones), while the embedded engine's committer stops at the first failure.
/// </summary>
public sealed class GroupCommitterTests : IDisposable
{
    private static readonly LshScheme Scheme = new(LshFamily.CrossPolytope, dimension: 4, hashesPerTable: 1, tables: 1, seed: 1, rungs: [0.9f], shardCount: 4);
    private readonly TempStores _stores = new();

    [Fact]
    public async Task On_a_coordinator_a_batch_refused_by_a_fence_fails_alone_and_later_batches_commit()
    {
        await using var store = await StoreWithShard3MovedAsync();
        await using var committer = new GroupCommitter(store, 1000, failStop: false);

        // Queued together, so that they may share a transaction: the stale one must not take the others down with it.
        var stale = committer.CommitAsync(Batch(1, epoch: 1));
        var current = committer.CommitAsync(Batch(2, epoch: 2));
        var elsewhere = committer.CommitAsync(new WriteBatch([new ShardFence(1, 0)], [Row(3, shard: 1)], []));

        var refused = await Assert.ThrowsAsync<StaleEpochException>(() => stale);
        Assert.Equal((3, 1L, 2L), (refused.Shard, refused.HeldEpoch, refused.CurrentEpoch));
        await current;
        await elsewhere;
        await committer.CommitAsync(Batch(4, epoch: 2));
        Assert.Equal([2L, 3, 4], await StoredIdsAsync(store));
    }

    [Fact]
    public async Task The_embedded_engines_committer_stops_at_the_first_failure()
    {
        await using var store = await StoreWithShard3MovedAsync();
        await using var committer = new GroupCommitter(store, 1000, failStop: true);

        await Assert.ThrowsAsync<StaleEpochException>(() => committer.CommitAsync(Batch(1, epoch: 1)));
        await Assert.ThrowsAsync<StaleEpochException>(() => committer.CommitAsync(Batch(2, epoch: 2)));
        Assert.Empty(await StoredIdsAsync(store));
    }

    public void Dispose() => _stores.Dispose();

    // Shard 3 claimed twice: epoch 2 is current, epoch 1 is the activation it replaced.
    private async Task<IDedupStore> StoreWithShard3MovedAsync()
    {
        var store = DedupStores.Open(_stores.NewSqlite());
        await store.MigrateAsync();
        await store.CreateClusterAsync(Scheme);
        Assert.Equal(1, (await store.ClaimShardsAsync("first", [3]))[0]);
        Assert.Equal(2, (await store.ClaimShardsAsync("second", [3]))[0]);
        return store;
    }

    private static WriteBatch Batch(long id, long epoch) => new([new ShardFence(3, epoch)], [Row(id, shard: 3)], []);

    private static StoredVector Row(long id, int shard) =>
        new(id, $"v{id}", shard, [1, 2, 3, 4], [7UL], 0, 0, new StoredVerdict(false, id, 0, 0), DateTimeOffset.UnixEpoch);

    private static async Task<List<long>> StoredIdsAsync(IDedupStore store)
    {
        var ids = new List<long>();
        await foreach (var v in store.ReadVectorsAsync())
        {
            ids.Add(v.VectorId);
        }

        return [.. ids.Order()];
    }
}
