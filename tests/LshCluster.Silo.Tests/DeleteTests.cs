using LshCluster.Core.Hashing;
using LshCluster.Core.Vectors;
using LshCluster.Silo.Engine;
using LshCluster.Storage;
using static LshCluster.Silo.Tests.EngineTests;

namespace LshCluster.Silo.Tests;

/// <summary>Deleting vectors on the embedded engine (ADR 0005): what disappears, what stays, and after a reload.</summary>
public sealed class DeleteTests : IDisposable
{
    private static readonly float[] Rungs = [0.99f, 0.95f];
    private static readonly LshScheme Scheme = TempStores.Plan(64, Rungs, shards: 32);
    private readonly TempStores _stores = new();

    [Fact]
    public async Task A_deleted_vector_is_no_longer_found_matched_listed_or_counted_and_its_id_can_be_stored_again()
    {
        await using var engine = await TempStores.CreateAsync(_stores.NewSqlite(), Scheme);
        var (a, b) = Pair(21, 0.995);
        var (_, c) = Pair(21, 0.996);
        // Ids order by millisecond, then home shard: a pause between inserts makes them strictly ordered.
        var first = (await engine.InsertAsync(new VectorInput("a", a))).Verdict!;
        await Task.Delay(5);
        var second = (await engine.InsertAsync(new VectorInput("b", b))).Verdict!;
        await Task.Delay(5);
        var third = (await engine.InsertAsync(new VectorInput("c", c))).Verdict!;
        Assert.True(first.VectorId < second.VectorId && second.VectorId < third.VectorId);
        string[] remaining = ["b", "c"];
        Assert.Equal(3, (await engine.GetClusterOfAsync("b", 0))!.Size);

        var deleted = Assert.Single(await engine.DeleteAsync(["a"]));

        Assert.True(deleted.Deleted);
        Assert.Null(deleted.Error);
        Assert.Null(await engine.GetVerdictAsync("a"));
        Assert.Null(await engine.GetValuesAsync("a"));
        Assert.DoesNotContain(await engine.FindNearDuplicatesAsync(a), n => n.ExternalId == "a");

        // The cluster keeps its id (a's) and its other members; its canonical member is now the earliest stored one.
        var cluster = (await engine.GetClusterOfAsync("c", 0))!;
        Assert.Equal(first.VectorId, cluster.ClusterId);
        Assert.Equal(2, cluster.Size);
        Assert.Equal(remaining[0], cluster.Canonical);
        Assert.Equal(remaining, cluster.Members.Select(m => m.ExternalId));
        Assert.Equal(cluster, await engine.GetClusterAsync(first.VectorId, 0), ClusterViewComparer.Instance);
        var stats = await engine.GetStatsAsync();
        Assert.Equal(2, stats.Vectors);
        Assert.Equal(2, stats.Rungs[0].ClusteredVectors);
        Assert.Equal([remaining], await engine.ExportClustersAsync(0, includeSingletons: true));
        var listed = Assert.Single(await engine.ListClustersAsync(0, membersPerCluster: 5));
        Assert.Equal(remaining[0], listed.Canonical);

        // Deleted is gone: asked again, it is not stored. Stored again, it is a new vector with a new verdict.
        Assert.False(Assert.Single(await engine.DeleteAsync(["a"])).Deleted);
        var again = (await engine.InsertAsync(new VectorInput("a", a))).Verdict!;
        Assert.False(again.Repeated);
        Assert.True(again.VectorId > first.VectorId);
        Assert.Equal(VerdictKind.Duplicate, again.Kind);
        Assert.Equal(3, (await engine.GetStatsAsync()).Vectors);
    }

    [Fact]
    public async Task Clusters_keep_the_merges_a_deleted_vector_made_and_are_the_same_after_a_reload()
    {
        var store = _stores.NewSqlite();

        // x0 and x2 are at about 0.92 of each other (no edge at the rung 0.95); x1 is at 0.96 of both and joins them.
        var x1 = Random(31);
        var x0 = Near(x1, 0.96, 32);
        var x2 = Near(x1, 0.96, 33);
        IReadOnlyList<IReadOnlyList<string>> before;
        await using (var engine = await TempStores.CreateAsync(store, Scheme))
        {
            await engine.InsertAsync(new VectorInput("x0", x0));
            await Task.Delay(5); // x0's id is the smaller (ids order by millisecond first)
            Assert.Equal(VerdictKind.New, (await engine.InsertAsync(new VectorInput("x2", x2))).Verdict!.Kind);
            Assert.Equal(VerdictKind.Duplicate, (await engine.InsertAsync(new VectorInput("x1", x1))).Verdict!.Kind);

            Assert.True(Assert.Single(await engine.DeleteAsync(["x1"])).Deleted);

            Assert.Equal(["x0", "x2"], (await engine.GetClusterOfAsync("x2", 1))!.Members.Select(m => m.ExternalId));
            before = await engine.ExportClustersAsync(1, includeSingletons: true);
        }

        await using var reopened = await DedupEngine.OpenAsync(DedupStores.Open(store));
        Assert.Equal(before, await reopened.ExportClustersAsync(1, includeSingletons: true));
        Assert.Equal([["x0", "x2"]], before);
        Assert.Null(await reopened.GetVerdictAsync("x1"));
        Assert.Equal(2, (await reopened.GetStatsAsync()).Vectors);
        var back = (await reopened.InsertAsync(new VectorInput("x1", x1))).Verdict!;
        Assert.False(back.Repeated);
        Assert.Equal("x0", back.Canonical);
    }

    [Fact]
    public async Task Deleting_while_others_insert_near_duplicates_leaves_the_same_clusters_a_reload_finds()
    {
        var store = _stores.NewSqlite();
        const int Groups = 40;
        var members = Enumerable.Range(0, Groups).Select(g =>
        {
            var seed = Random((ulong)(1000 + g));
            return Enumerable.Range(0, 4).Select(k => k == 0 ? seed : Near(seed, 0.995, (ulong)((g * 10) + k))).ToArray();
        }).ToArray();
        IReadOnlyList<IReadOnlyList<string>> live;
        await using (var engine = await TempStores.CreateAsync(store, Scheme))
        {
            await engine.InsertAsync([.. Enumerable.Range(0, Groups).SelectMany(g => new[] { new VectorInput($"g{g}-0", members[g][0]), new VectorInput($"g{g}-1", members[g][1]) })]);

            var deletes = Task.WhenAll(Enumerable.Range(0, Groups).Select(g => Task.Run(() => engine.DeleteAsync([$"g{g}-0"]))));
            var inserts = Task.WhenAll(Enumerable.Range(0, Groups).Select(g => Task.Run(() =>
                engine.InsertAsync([new VectorInput($"g{g}-2", members[g][2]), new VectorInput($"g{g}-3", members[g][3])]))));
            Assert.All((await deletes).SelectMany(r => r), r => Assert.True(r.Deleted));
            Assert.All((await inserts).SelectMany(r => r), r => Assert.NotNull(r.Verdict));

            live = await engine.ExportClustersAsync(0, includeSingletons: true);
            Assert.Equal(3 * Groups, (await engine.GetStatsAsync()).Vectors);
        }

        Assert.DoesNotContain(live.SelectMany(c => c), id => id.EndsWith("-0", StringComparison.Ordinal));
        Assert.Equal(3 * Groups, live.Sum(c => c.Count));
        await using var reopened = await DedupEngine.OpenAsync(DedupStores.Open(store));
        Assert.Equal(live, await reopened.ExportClustersAsync(0, includeSingletons: true));
    }

    [Fact]
    public async Task Ids_not_stored_change_nothing_and_bad_ids_are_refused_whole_naming_the_field()
    {
        await using var engine = await TempStores.CreateAsync(_stores.NewSqlite(), Scheme);
        await engine.InsertAsync(new VectorInput("kept", Random(41)));

        var results = await engine.DeleteAsync(["nope", "nope"]);
        Assert.All(results, r => Assert.False(r.Deleted));
        Assert.Equal([0, 1], results.Select(r => r.Index));

        var empty = await Assert.ThrowsAsync<ArgumentException>(() => engine.DeleteAsync(["kept", ""]));
        Assert.Equal("ids[1]", empty.ParamName);
        var tooLong = await Assert.ThrowsAsync<ArgumentException>(() => engine.DeleteAsync(["kept", new string('x', 1000)]));
        Assert.Equal("ids[1]", tooLong.ParamName);
        Assert.Contains("at most", tooLong.Message, StringComparison.Ordinal);
        Assert.NotNull(await engine.GetVerdictAsync("kept"));
        Assert.Equal(1, (await engine.GetStatsAsync()).Vectors);
    }

    private static float[] Near(float[] a, double cosine, ulong seed)
    {
        var rng = new SplitMix64(seed + 31337);
        var b = new float[a.Length];
        SyntheticVectors.NearDuplicate(a, cosine, ref rng, b);
        return b;
    }

    public void Dispose() => _stores.Dispose();

    private sealed class ClusterViewComparer : IEqualityComparer<ClusterView?>
    {
        public static readonly ClusterViewComparer Instance = new();

        public bool Equals(ClusterView? x, ClusterView? y) =>
            x is not null && y is not null && x.ClusterId == y.ClusterId && x.Canonical == y.Canonical && x.Size == y.Size
            && x.Members.SequenceEqual(y.Members);

        public int GetHashCode(ClusterView? obj) => obj?.ClusterId.GetHashCode() ?? 0;
    }
}
