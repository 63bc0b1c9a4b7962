using LshCluster.Grains.Shards;
using LshCluster.Silo.Engine;
using LshCluster.Storage;

namespace LshCluster.Silo.Tests;

/// <summary>
/// Shards loaded from their own rows (home-shard index, bucket log), alone or in groups, hold what the load from every
/// vector of the store gives them: the same records and verdicts, bucket entries, parent pointers and ghosts, after real inserts (chains of
/// near-duplicates across batches) and deletes.
/// </summary>
public sealed class ShardLoaderTests : IDisposable
{
    private const int Shards = 16;
    private readonly TempStores _stores = new();

    [Fact]
    public async Task Loading_shards_in_groups_from_their_own_rows_gives_what_the_whole_store_load_gives()
    {
        var store = _stores.NewSqlite();
        var scheme = TempStores.Plan(64, [0.99f, 0.95f], shards: Shards);
        await using (var engine = await TempStores.CreateAsync(store, scheme))
        {
            for (var batch = 0; batch < 4; batch++)
            {
                var items = new List<VectorInput>();
                for (var i = 0; i < 30; i++)
                {
                    // Pairs within a batch and, through the shared seed, chains across batches.
                    var (a, b) = EngineTests.Pair((ulong)(i % 20), 0.995 - (0.01 * batch));
                    items.Add(new VectorInput($"b{batch}-{i}-a", batch == 0 ? a : b));
                    items.Add(new VectorInput($"b{batch}-{i}-b", EngineTests.Random((ulong)(1000 + (batch * 100) + i))));
                }

                await engine.InsertAsync(items);
            }

            await engine.DeleteAsync(["b1-3-a", "b0-5-a", "b2-7-b"]);
        }

        await using var opened = DedupStores.Open(store);
        var all = new Shard?[Shards];
        var directory = new VectorDirectory();
        for (var s = 0; s < Shards; s++)
        {
            all[s] = new Shard(s, scheme.Rungs.Count, TimeProvider.System, directory);
        }

        await ShardLoader.LoadAsync(opened, scheme, all, long.MaxValue, default);

        var groups = new VectorDirectory();

        // Groups as activations bring them: one shard alone, a few, and the rest together.
        var loaded = new List<Shard>();
        foreach (var group in new[] { new[] { 0 }, new[] { 1, 5, 9 }, [.. Enumerable.Range(2, Shards - 2).Except([5, 9])] })
        {
            // In a directory of their own, as a silo taking these shards over would have.
            var shards = group.Select(s => new Shard(s, scheme.Rungs.Count, TimeProvider.System, groups)).ToList();
            await ShardLoader.LoadShardsAsync(opened, scheme, shards, long.MaxValue, concurrency: 2, default);
            loaded.AddRange(shards);
        }

        Assert.Equal(Shards, loaded.Count);
        var parentsSeen = 0;
        foreach (var one in loaded)
        {
            var whole = all[one.Index]!;
            Assert.Equal(Records(whole), Records(one));
            Assert.Equal(Entries(whole), Entries(one));
            for (var rung = 0; rung < scheme.Rungs.Count; rung++)
            {
                Assert.Equal(Parents(whole, rung), Parents(one, rung));
                Assert.Equal(whole.Parents(rung).Deleted.Order(), one.Parents(rung).Deleted.Order());
                parentsSeen += one.Parents(rung).Parents.Length;
            }
        }

        Assert.True(parentsSeen > 20, $"the data should make clusters; {parentsSeen} parent pointers were loaded");
    }

    private static List<(long, string, StoredVerdict)> Records(Shard shard) =>
        [.. shard.Records().Select(r => (r.Id, r.ExternalId, r.AcknowledgedVerdict)).OrderBy(r => r.Id)];

    private static List<BucketEntry> Entries(Shard shard) => [.. shard.BucketEntries().OrderBy(e => (e.Key, e.VectorId))];

    private static List<KeyValuePair<long, long>> Parents(Shard shard, int rung) => [.. shard.Parents(rung).Parents.OrderBy(p => p.Key)];

    public void Dispose() => _stores.Dispose();
}
