using System.Data.Common;
using LshCluster.Core.Hashing;
using LshCluster.Core.Ids;
using LshCluster.Storage.Migrations;
using static LshCluster.Storage.Tests.TestData;

namespace LshCluster.Storage.Tests;

/// <summary>
/// The behaviour every <see cref="IDedupStore"/> must have, run against each real engine by a derived class. Each test
/// gets a new, empty database, named by the <c>--store</c> string <see cref="Store"/>.
/// </summary>
public abstract class DedupStoreContract : IAsyncLifetime
{
    /// <summary>The <c>--store</c> value of this test's empty database.</summary>
    protected string Store { get; private set; } = "";

    /// <summary>The folder of this engine's migrations.</summary>
    protected abstract string Engine { get; }

    public async Task InitializeAsync() => Store = await CreateEmptyStoreAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    /// <summary>Creates an empty database and returns its <c>--store</c> value.</summary>
    protected abstract Task<string> CreateEmptyStoreAsync();

    /// <summary>Runs <paramref name="sql"/> on this test's database, outside the store, and returns the first value.</summary>
    protected abstract Task<object?> ScalarAsync(string sql);

    protected async Task<long> CountAsync(string table) => Convert.ToInt64(await ScalarAsync($"SELECT count(*) FROM {table}"));

    protected async Task<IDedupStore> OpenClusterAsync()
    {
        var store = DedupStores.Open(Store);
        await store.MigrateAsync();
        await store.CreateClusterAsync(Scheme());
        return store;
    }

    [Fact]
    public async Task Migrating_twice_applies_each_migration_once()
    {
        await using var store = DedupStores.Open(Store);

        await store.MigrateAsync();
        await store.MigrateAsync();

        Assert.Equal(MigrationScripts.Load(Engine).Count, await CountAsync("schema_migrations"));
        Assert.Null(await store.ReadSchemeAsync());
    }

    [Fact]
    public async Task Two_processes_migrating_at_once_apply_each_migration_once()
    {
        await using var first = DedupStores.Open(Store);
        await using var second = DedupStores.Open(Store);

        await Task.WhenAll(Task.Run(() => first.MigrateAsync()), Task.Run(() => second.MigrateAsync()));

        Assert.Equal(MigrationScripts.Load(Engine).Count, await CountAsync("schema_migrations"));
    }

    [Fact]
    public async Task A_created_cluster_reads_back_its_scheme_byte_for_byte_and_has_a_lease_per_shard()
    {
        await using var store = DedupStores.Open(Store);
        await store.MigrateAsync();
        var scheme = Scheme();

        await store.CreateClusterAsync(scheme);
        var read = await store.ReadSchemeAsync();

        Assert.NotNull(read);
        Assert.Equal(scheme.ToBytes(), read.ToBytes());
        Assert.Equal(scheme.Fingerprint, read.Fingerprint);
        Assert.Equal(ShardCount, await CountAsync("shard_leases"));
        Assert.Equal(0L, Convert.ToInt64(await ScalarAsync("SELECT max(epoch) FROM shard_leases")));
        Assert.Equal(ShardCount - 1L, Convert.ToInt64(await ScalarAsync("SELECT max(shard) FROM shard_leases")));
    }

    [Fact]
    public async Task Creating_a_second_cluster_is_refused_and_keeps_the_first()
    {
        await using var store = await OpenClusterAsync();
        var other = new Core.Hashing.LshScheme(Core.Hashing.LshFamily.Hyperplane, 16, 8, 4, 2, [0.9f], shardCount: 4);

        await Assert.ThrowsAsync<InvalidOperationException>(() => store.CreateClusterAsync(other));

        Assert.Equal(Scheme().ToBytes(), (await store.ReadSchemeAsync())!.ToBytes());
        Assert.Equal(ShardCount, await CountAsync("shard_leases"));
    }

    [Fact]
    public async Task The_feed_holds_each_commits_events_at_dense_positions_in_commit_order()
    {
        await using var store = await OpenClusterAsync();
        Assert.Equal(1, await store.FeedStartAsync());
        FeedEvent[] first = [new(FeedEventKind.Verdict, 10, "ten", false, 0, 10, 0, 0), new(FeedEventKind.Verdict, 11, "élève", true, 10, 10, 0.995f, 0), new(FeedEventKind.Merge, 11, "", false, 10, 0, 0, 1)];
        FeedEvent[] second = [new(FeedEventKind.Deletion, 10, "ten", false, 0, 0, 0, 0)];

        await store.CommitAsync(Batch([Vector(10), Vector(11)]) with { Events = first });
        await store.CommitAsync(Batch([Vector(12)])); // no events: no row, no position
        await store.CommitAsync(new WriteBatch([new ShardFence(VectorId.HomeShard(10), 0)], [], []) { Deletions = [10], Events = second });

        var feed = await store.ReadFeedAsync(0, 10);
        Assert.Equal([1L, 2L], feed.Select(b => b.Position));
        Assert.Equal(first, feed[0].Events);
        Assert.Equal(second, feed[1].Events);
        Assert.True(feed[0].At <= feed[1].At && feed[1].At <= DateTimeOffset.UtcNow.AddMinutes(1));
        Assert.Equal([2L], (await store.ReadFeedAsync(1, 10)).Select(b => b.Position));
        Assert.Single(await store.ReadFeedAsync(0, 1));
        Assert.Empty(await store.ReadFeedAsync(2, 10));

        // Retention drops rows by age; positions go on from where they were.
        Assert.Equal(0, await store.PruneFeedAsync(DateTimeOffset.UtcNow.AddHours(-1)));
        Assert.Equal(2, await store.PruneFeedAsync(DateTimeOffset.UtcNow.AddMinutes(1)));
        Assert.Equal(3, await store.FeedStartAsync());
        await store.CommitAsync(Batch([Vector(13)]) with { Events = [new(FeedEventKind.Verdict, 13, "13", false, 0, 13, 0, 0)] });
        Assert.Equal([3L], (await store.ReadFeedAsync(0, 10)).Select(b => b.Position));
        Assert.Equal(3, await store.FeedStartAsync());
    }

    [Fact]
    public async Task Concurrent_commits_take_dense_feed_positions_each_once()
    {
        await using var store = await OpenClusterAsync();
        await Task.WhenAll(Enumerable.Range(0, 24).Select(k => Task.Run(() =>
            store.CommitAsync(Batch([Vector(100 + k)]) with { Events = [new(FeedEventKind.Verdict, 100 + k, $"v{k}", false, 0, 100 + k, 0, 0)] }))));

        var feed = await store.ReadFeedAsync(0, 100);
        Assert.Equal(Enumerable.Range(1, 24).Select(p => (long)p), feed.Select(b => b.Position));
        Assert.Equal(Enumerable.Range(0, 24).Select(k => 100L + k), feed.Select(b => b.Events.Single().VectorId).Order());
    }

    [Fact]
    public async Task Committed_vectors_read_back_bit_exact_in_id_order()
    {
        await using var store = await OpenClusterAsync();
        StoredVector[] first = [Vector(40), Vector(10), Vector(30), Vector(21)];
        StoredVector[] second = [Vector(5), Vector(35), Vector(1_000_000_000_000)];

        await store.CommitAsync(Batch(first));
        await store.CommitAsync(Batch(second));
        var read = await ToListAsync(store.ReadVectorsAsync());

        var expected = first.Concat(second).OrderBy(v => v.VectorId).ToArray();
        Assert.Equal(expected.Length, read.Count);
        for (var i = 0; i < expected.Length; i++)
        {
            AssertSame(expected[i], read[i]);
        }
    }

    [Fact]
    public async Task Each_shard_reads_back_exactly_its_own_bucket_entries_and_home_rows()
    {
        await using var store = await OpenClusterAsync();
        StoredVector[] first = [.. Enumerable.Range(1, 40).Select(i => Vector(i))];
        StoredVector[] second = [.. Enumerable.Range(41, 25).Select(i => Vector(i))];
        await store.CommitAsync(Batch(first));
        await store.CommitAsync(Batch(second));
        await store.CommitAsync(new WriteBatch([new ShardFence(VectorId.HomeShard(first[3].VectorId), 0)], [], []) { Deletions = [first[3].VectorId] });

        var stored = first.Concat(second).ToList();
        for (var shard = 0; shard < ShardCount; shard++)
        {
            // Every committed vector's entry for every table whose bucket this shard holds, and nothing else (a deleted
            // vector's entries may be there or not: its home no longer matches it).
            var entries = (await ToListAsync(store.ReadBucketEntriesAsync(shard))).Where(e => e.VectorId != first[3].VectorId);
            var expected = stored.Where(v => v.VectorId != first[3].VectorId)
                .SelectMany(v => v.BucketKeys.Select((key, t) => (Table: t, Entry: new BucketEntry(key, v.VectorId, v.SketchLow, v.SketchHigh))))
                .Where(x => Scheme().ShardOfBucket(x.Table, x.Entry.Key) == shard).Select(x => x.Entry);
            Assert.Equal(Sorted(expected), Sorted(entries));

            // Its home rows, in id order, without the deleted one.
            var home = await ToListAsync(store.ReadHomeVectorsAsync(shard));
            var expectedHome = stored.Where(v => v.HomeShard == shard && v.VectorId != first[3].VectorId).OrderBy(v => v.VectorId).ToList();
            Assert.Equal(expectedHome.Count, home.Count);
            for (var i = 0; i < home.Count; i++)
            {
                AssertSame(expectedHome[i], home[i]);
            }
        }
    }

    [Fact]
    public async Task Batches_written_without_the_bucket_log_are_still_loaded_by_each_shard_once()
    {
        // The embedded engine skips the log; a silo loading one shard afterwards must still find every entry, once,
        // and commits with the log after that must not be lost or doubled.
        await using var store = await OpenClusterAsync();
        StoredVector[] logged = [.. Enumerable.Range(1, 20).Select(i => Vector(i))];
        StoredVector[] unlogged = [.. Enumerable.Range(21, 20).Select(i => Vector(i))];
        StoredVector[] after = [.. Enumerable.Range(41, 20).Select(i => Vector(i))];
        await store.CommitAsync(Batch(logged));
        await store.CommitAsync(Batch(unlogged) with { WithoutBucketLog = true });
        await AssertEachShardLoadsAsync(store, [.. logged, .. unlogged]);

        await store.CommitAsync(Batch(after));
        await store.CommitAsync(Batch([Vector(61)]) with { WithoutBucketLog = true });
        await AssertEachShardLoadsAsync(store, [.. logged, .. unlogged, .. after, Vector(61)]);
    }

    private static async Task AssertEachShardLoadsAsync(IDedupStore store, StoredVector[] stored)
    {
        for (var shard = 0; shard < ShardCount; shard++)
        {
            var entries = await ToListAsync(store.ReadBucketEntriesAsync(shard));
            var expected = stored.SelectMany(v => v.BucketKeys.Select((key, t) => (Table: t, Entry: new BucketEntry(key, v.VectorId, v.SketchLow, v.SketchHigh))))
                .Where(x => Scheme().ShardOfBucket(x.Table, x.Entry.Key) == shard).Select(x => x.Entry);
            Assert.Equal(Sorted(expected), Sorted(entries));
        }
    }

    [Fact]
    public async Task Migrating_a_store_written_before_the_bucket_log_gives_each_shard_its_entries()
    {
        StoredVector[] vectors = [.. Enumerable.Range(1, 30).Select(i => Vector(i))];
        await using (var store = await OpenClusterAsync())
        {
            await store.CommitAsync(Batch(vectors));
        }

        // The database as the build before the log left it.
        var version = MigrationScripts.Load(Engine).Single(m => m.Name.Contains("shard_reads", StringComparison.Ordinal)).Version;
        await ScalarAsync("DROP TABLE IF EXISTS bucket_log"); // SQLite keeps none since its migration 0004
        await ScalarAsync("DROP INDEX vectors_home_shard");
        await ScalarAsync("DROP INDEX deleted_vectors_home_shard");
        await ScalarAsync("DROP TABLE feed"); // and what later migrations add
        await ScalarAsync("DROP TABLE feed_head");
        await ScalarAsync($"DELETE FROM schema_migrations WHERE version >= {version}");

        await using (var store = DedupStores.Open(Store))
        {
            await store.MigrateAsync();
            var entries = new List<BucketEntry>();
            for (var shard = 0; shard < ShardCount; shard++)
            {
                entries.AddRange((await ToListAsync(store.ReadBucketEntriesAsync(shard))).Where(e => Scheme().ShardOfBucket(TableOf(e), e.Key) == shard));
            }

            var expected = vectors.SelectMany(v => v.BucketKeys.Select(key => new BucketEntry(key, v.VectorId, v.SketchLow, v.SketchHigh)));
            Assert.Equal(Sorted(expected), Sorted(entries));
        }

        int TableOf(BucketEntry e) => Array.IndexOf(vectors.Single(v => v.VectorId == e.VectorId).BucketKeys, e.Key);
    }

    private static BucketEntry[] Sorted(IEnumerable<BucketEntry> entries) => [.. entries.OrderBy(e => (e.Key, e.VectorId))];

    [Fact]
    public async Task Vectors_stream_in_id_order_across_many_batches()
    {
        await using var store = await OpenClusterAsync();
        const int batches = 5;
        const int perBatch = 500;

        for (var b = batches - 1; b >= 0; b--)
        {
            await store.CommitAsync(Batch([.. Enumerable.Range(0, perBatch).Select(i => Vector(1 + (i * batches) + b))]));
        }

        long previous = 0;
        var count = 0;
        await foreach (var vector in store.ReadVectorsAsync())
        {
            Assert.True(vector.VectorId > previous, $"vector {vector.VectorId} came after {previous}");
            previous = vector.VectorId;
            count++;
        }

        Assert.Equal(batches * perBatch, count);
    }

    [Fact]
    public async Task Committed_edges_read_back_ordered_and_a_repeated_edge_changes_nothing()
    {
        await using var store = await OpenClusterAsync();
        StoredVector[] vectors = [Vector(1), Vector(2), Vector(3)];

        await store.CommitAsync(Batch(vectors, new VerifiedEdge(2, 3, 0.93f), new VerifiedEdge(1, 2, 0.99f), new VerifiedEdge(1, 2, 0.99f)));
        await store.CommitAsync(Batch([Vector(4)], new VerifiedEdge(1, 2, 0.5f), new VerifiedEdge(1, 4, 0.91f)));
        var edges = await ToListAsync(store.ReadEdgesAsync());

        Assert.Equal([new VerifiedEdge(1, 2, 0.99f), new VerifiedEdge(1, 4, 0.91f), new VerifiedEdge(2, 3, 0.93f)], edges);
    }

    [Fact]
    public async Task Fixing_a_learned_scheme_rewrites_every_key_takes_new_epochs_and_refuses_batches_hashed_before()
    {
        await using var store = DedupStores.Open(Store);
        await store.MigrateAsync();
        var learning = LearningScheme();
        await store.CreateClusterAsync(learning);
        StoredVector[] learned = [.. Enumerable.Range(1, 30).Select(i => Vector(i) with { BucketKeys = [LearningKey] })];
        await store.CommitAsync(Batch(learned) with { Scheme = learning });
        var fixedScheme = Scheme();

        Assert.True(await store.FixSchemeAsync(learning, fixedScheme, FixedKeys));

        Assert.Equal(fixedScheme.ToBytes(), (await store.ReadSchemeAsync())!.ToBytes());
        Assert.Equal(1L, Convert.ToInt64(await ScalarAsync("SELECT min(epoch) FROM shard_leases")));
        Assert.Equal(1L, Convert.ToInt64(await ScalarAsync("SELECT max(epoch) FROM shard_leases")));
        var stored = await ToListAsync(store.ReadVectorsAsync());
        Assert.Equal(learned.Length, stored.Count);
        foreach (var v in stored)
        {
            Assert.Equal(FixedKeys(learned.Single(l => l.VectorId == v.VectorId).Values), v.BucketKeys);
        }

        // Each shard loads the fixed scheme's entries: every vector's in every table, once.
        var entries = new List<(int Shard, BucketEntry Entry)>();
        for (var shard = 0; shard < ShardCount; shard++)
        {
            entries.AddRange((await ToListAsync(store.ReadBucketEntriesAsync(shard))).Select(e => (shard, e)));
        }

        var expected = stored.SelectMany(v => v.BucketKeys.Select((key, t) => (fixedScheme.ShardOfBucket(t, key), new BucketEntry(key, v.VectorId, v.SketchLow, v.SketchHigh))));
        Assert.Equal(expected.OrderBy(e => e.Item2.VectorId).ThenBy(e => e.Item2.Key), entries.OrderBy(e => e.Entry.VectorId).ThenBy(e => e.Entry.Key));

        // A batch hashed with the learning scheme is refused even at the new epochs, and writes nothing; hashed again, it goes in.
        var late = Vector(31) with { BucketKeys = [LearningKey] };
        var refused = await Assert.ThrowsAsync<SchemeChangedException>(() =>
            store.CommitAsync(new WriteBatch([new ShardFence(late.HomeShard, 1)], [late], []) { Scheme = learning }));
        Assert.Equal(learning.Fingerprint, refused.HashedWith);
        Assert.Equal(fixedScheme.Fingerprint, refused.Stored);
        Assert.Equal(learned.Length, await CountAsync("vectors"));
        await store.CommitAsync(new WriteBatch([new ShardFence(late.HomeShard, 1)], [late with { BucketKeys = FixedKeys(late.Values) }], []) { Scheme = fixedScheme });
        Assert.Equal(learned.Length + 1, await CountAsync("vectors"));

        // Fixed once: a second fix (another silo that planned too) changes nothing.
        Assert.False(await store.FixSchemeAsync(learning, new LshScheme(LshFamily.Hyperplane, Dimension, 4, 2, 1, [0.95f, 0.9f], ShardCount), FixedKeys));
        Assert.Equal(fixedScheme.Fingerprint, (await store.ReadSchemeAsync())!.Fingerprint);
        Assert.Equal(1L, Convert.ToInt64(await ScalarAsync("SELECT max(epoch) FROM shard_leases")));
    }

    [Fact]
    public async Task A_fix_that_would_move_vectors_or_sketches_is_refused()
    {
        await using var store = DedupStores.Open(Store);
        await store.MigrateAsync();
        var learning = LearningScheme();
        await store.CreateClusterAsync(learning);

        var otherSeed = new LshScheme(LshFamily.CrossPolytope, Dimension, 2, Tables, seed: 2, [0.95f, 0.9f], ShardCount);
        var error = await Assert.ThrowsAsync<ArgumentException>(() => store.FixSchemeAsync(learning, otherSeed, FixedKeys));
        Assert.Contains("seed", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => store.FixSchemeAsync(Scheme(), Scheme(), FixedKeys));
        Assert.Equal(learning.Fingerprint, (await store.ReadSchemeAsync())!.Fingerprint);
    }

    [Fact]
    public async Task A_batch_carrying_a_superseded_epoch_is_refused_and_writes_nothing()
    {
        await using var store = await OpenClusterAsync();
        var first = await store.ClaimShardsAsync("silo-a", [3]);
        var second = await store.ClaimShardsAsync("silo-b", [3]);
        var stale = new WriteBatch([new ShardFence(3, first[0])], [Vector(3)], [new VerifiedEdge(3, 19, 0.95f)]);

        var refused = await Assert.ThrowsAsync<StaleEpochException>(() => store.CommitAsync(stale));

        Assert.Equal([1L], first);
        Assert.Equal([2L], second);
        Assert.Equal(3, refused.Shard);
        Assert.Equal(1, refused.HeldEpoch);
        Assert.Equal(2, refused.CurrentEpoch);
        Assert.Equal(0, await CountAsync("vectors"));
        Assert.Equal(0, await CountAsync("edges"));

        await store.CommitAsync(stale with { Fences = [new ShardFence(3, second[0])] });
        Assert.Equal(1, await CountAsync("vectors"));
        Assert.Equal(1, await CountAsync("edges"));
    }

    [Fact]
    public async Task A_refused_batch_names_the_first_fence_that_moved()
    {
        await using var store = await OpenClusterAsync();
        await store.ClaimShardsAsync("silo-a", [1, 2, 3]);
        await store.ClaimShardsAsync("silo-b", [3, 2]);
        var batch = new WriteBatch([new ShardFence(1, 1), new ShardFence(3, 1), new ShardFence(2, 1)], [Vector(1), Vector(2)], []);

        var refused = await Assert.ThrowsAsync<StaleEpochException>(() => store.CommitAsync(batch));

        Assert.Equal(3, refused.Shard);
        Assert.Equal(0, await CountAsync("vectors"));
    }

    [Fact]
    public async Task Claiming_returns_the_new_epochs_in_the_order_asked_and_records_the_owner()
    {
        await using var store = await OpenClusterAsync();
        await store.ClaimShardsAsync("silo-a", [7]);

        var epochs = await store.ClaimShardsAsync("silo-b", [9, 7, 0]);

        Assert.Equal([1L, 2L, 1L], epochs);
        Assert.Equal("silo-b", await ScalarAsync("SELECT owner FROM shard_leases WHERE shard = 7"));
        Assert.Equal(0L, Convert.ToInt64(await ScalarAsync("SELECT epoch FROM shard_leases WHERE shard = 8")));
    }

    [Fact]
    public async Task Claiming_a_shard_outside_the_cluster_claims_nothing()
    {
        await using var store = await OpenClusterAsync();

        await Assert.ThrowsAsync<InvalidOperationException>(() => store.ClaimShardsAsync("silo-a", [2, ShardCount]));
        await Assert.ThrowsAsync<ArgumentException>(() => store.ClaimShardsAsync("silo-a", [2, 2]));

        Assert.Equal(0L, Convert.ToInt64(await ScalarAsync("SELECT max(epoch) FROM shard_leases")));
    }

    [Fact]
    public async Task A_batch_that_repeats_a_stored_external_id_fails_whole()
    {
        await using var store = await OpenClusterAsync();
        await store.CommitAsync(Batch([Vector(1, externalId: "same")]));

        await Assert.ThrowsAnyAsync<DbException>(() => store.CommitAsync(Batch([Vector(2), Vector(3, externalId: "same")], new VerifiedEdge(2, 3, 0.97f))));

        Assert.Equal(1, await CountAsync("vectors"));
        Assert.Equal(0, await CountAsync("edges"));
        await store.CommitAsync(Batch([Vector(2)]));
        Assert.Equal(2, await CountAsync("vectors"));
    }

    [Fact]
    public async Task A_vector_whose_home_shard_is_not_fenced_is_refused_before_writing()
    {
        await using var store = await OpenClusterAsync();
        var batch = new WriteBatch([new ShardFence(1, 0)], [Vector(1, homeShard: 1), Vector(2, homeShard: 2)], []);

        var refused = await Assert.ThrowsAsync<ArgumentException>(() => store.CommitAsync(batch));

        Assert.Contains("shard 2", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, await CountAsync("vectors"));
    }

    [Fact]
    public async Task A_batch_fencing_a_shard_outside_the_cluster_is_refused()
    {
        await using var store = await OpenClusterAsync();

        await Assert.ThrowsAsync<InvalidOperationException>(() => store.CommitAsync(new WriteBatch([new ShardFence(ShardCount + 5, 0)], [], [])));
    }

    [Fact]
    public async Task A_deletion_moves_the_row_out_keeps_its_id_and_edges_and_frees_the_external_id()
    {
        await using var store = await OpenClusterAsync();
        var kept = Vector(VectorId.Create(1, 3, 0), homeShard: 3, externalId: "kept");
        var gone = Vector(VectorId.Create(2, 5, 0), homeShard: 5, externalId: "gone");
        await store.CommitAsync(Batch([kept, gone], new VerifiedEdge(kept.VectorId, gone.VectorId, 0.97f)));

        // The same batch deletes "gone" and stores the id again as a new vector: deletions are applied first.
        var again = Vector(VectorId.Create(3, 5, 0), homeShard: 5, externalId: "gone");
        await store.CommitAsync(Batch([again]) with { Deletions = [gone.VectorId, VectorId.Create(9, 5, 0)] });

        var read = await ToListAsync(store.ReadVectorsAsync());
        Assert.Equal([kept.VectorId, again.VectorId], read.Select(v => v.VectorId));
        Assert.Equal([gone.VectorId], await ToListAsync(store.ReadDeletedAsync()));
        Assert.Equal([new VerifiedEdge(kept.VectorId, gone.VectorId, 0.97f)], await ToListAsync(store.ReadEdgesAsync()));

        // Deleting again changes nothing.
        await store.CommitAsync(new WriteBatch([new ShardFence(5, 0)], [], []) { Deletions = [gone.VectorId] });
        Assert.Equal(1, await CountAsync("deleted_vectors"));
        Assert.Equal(2, await CountAsync("vectors"));
    }

    [Fact]
    public async Task Ghosts_of_a_batch_never_committed_are_recorded_unless_stored_and_only_once_with_the_edges_it_verified()
    {
        await using var store = await OpenClusterAsync();
        var stored = Vector(VectorId.Create(1, 3, 0), homeShard: 3);
        var lost = VectorId.Create(2, 6, 0);
        var other = VectorId.Create(3, 7, 0);
        await store.CommitAsync(Batch([stored], new VerifiedEdge(stored.VectorId, lost, 0.99f)));

        await store.RecordGhostsAsync([stored.VectorId, lost], [new VerifiedEdge(stored.VectorId, lost, 0.99f), new VerifiedEdge(lost, other, 0.97f)]);
        await store.RecordGhostsAsync([lost], [new VerifiedEdge(lost, other, 0.97f)]);

        Assert.Equal([lost], await ToListAsync(store.ReadDeletedAsync()));
        Assert.Equal([new VerifiedEdge(stored.VectorId, lost, 0.99f), new VerifiedEdge(lost, other, 0.97f)],
            (await ToListAsync(store.ReadEdgesAsync())).OrderBy(e => e.A).ThenBy(e => e.B));
        Assert.Equal([stored.VectorId], (await ToListAsync(store.ReadVectorsAsync())).Select(v => v.VectorId));
        Assert.Equal(6L, Convert.ToInt64(await ScalarAsync("SELECT home_shard FROM deleted_vectors"), System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task A_deletion_is_fenced_by_its_home_shard()
    {
        await using var store = await OpenClusterAsync();
        var v = Vector(VectorId.Create(1, 4, 0), homeShard: 4);
        await store.CommitAsync(Batch([v]));

        var unfenced = await Assert.ThrowsAsync<ArgumentException>(() =>
            store.CommitAsync(new WriteBatch([new ShardFence(3, 0)], [], []) { Deletions = [v.VectorId] }));
        Assert.Contains("shard 4", unfenced.Message, StringComparison.Ordinal);

        await store.ClaimShardsAsync("silo-b", [4]);
        await Assert.ThrowsAsync<StaleEpochException>(() =>
            store.CommitAsync(new WriteBatch([new ShardFence(4, 0)], [], []) { Deletions = [v.VectorId] }));

        Assert.Equal(1, await CountAsync("vectors"));
        Assert.Equal(0, await CountAsync("deleted_vectors"));
    }

    [Fact]
    public async Task Two_processes_writing_the_same_edges_in_opposite_orders_at_once_both_commit()
    {
        // Two silos that each find the other's in-flight near-duplicates write the same edges in their own batches.
        await using var first = await OpenClusterAsync();
        await using var second = DedupStores.Open(Store);
        await second.MigrateAsync();
        var random = new Random(7);
        for (var round = 0; round < 10; round++)
        {
            var edges = Enumerable.Range(0, 2000).Select(_ =>
            {
                var a = random.NextInt64(1, 1L << 40);
                return new VerifiedEdge(a, a + random.NextInt64(1, 1L << 20), 0.97f);
            }).ToList();
            var reversed = Enumerable.Reverse(edges).ToList();

            await Task.WhenAll(
                Task.Run(() => first.CommitAsync(new WriteBatch([], [], edges))),
                Task.Run(() => second.CommitAsync(new WriteBatch([], [], reversed))));
        }

        Assert.Equal(20_000, await CountAsync("edges"));
    }
}
