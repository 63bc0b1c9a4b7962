using LshCluster.Core.Hashing;
using LshCluster.Core.Ids;
using LshCluster.Core.Kernels;
using LshCluster.Core.Vectors;
using LshCluster.Silo.Engine;

namespace LshCluster.Silo.Tests;

public sealed class EngineTests : IDisposable
{
    private static readonly float[] Rungs = [0.99f, 0.95f];
    private static readonly LshScheme Scheme = TempStores.Plan(64, Rungs, shards: 32);
    private readonly TempStores _stores = new();

    [Fact]
    public async Task A_near_duplicate_is_a_duplicate_of_the_first_vector_and_joins_its_cluster()
    {
        await using var engine = await TempStores.CreateAsync(_stores.NewSqlite(), Scheme);
        var (a, b) = Pair(1, 0.995);

        var first = (await engine.InsertAsync(new VectorInput("a", a))).Verdict!;
        var second = (await engine.InsertAsync(new VectorInput("b", b))).Verdict!;

        Assert.Equal(VerdictKind.New, first.Kind);
        Assert.Equal(VerdictKind.Duplicate, second.Kind);
        Assert.Equal("a", second.Canonical);
        Assert.Equal("a", second.BestMatch);
        Assert.Equal(first.VectorId, second.ClusterId);
        Assert.Equal(0.99f, second.Rung);
        Assert.InRange(second.BestCosine!.Value, 0.99f, 1f);
        var cluster = await engine.GetClusterOfAsync("b", 0);
        Assert.Equal(2, cluster!.Size);
        Assert.Equal("a", cluster.Canonical);
    }

    [Fact]
    public async Task A_pair_between_the_rungs_clusters_only_at_the_lower_rung()
    {
        await using var engine = await TempStores.CreateAsync(_stores.NewSqlite(), Scheme);
        var (a, b) = Pair(2, 0.97);

        await engine.InsertAsync([new VectorInput("a", a), new VectorInput("b", b)]);

        Assert.Equal(1, (await engine.GetClusterOfAsync("b", 0))!.Size);
        Assert.Equal(2, (await engine.GetClusterOfAsync("b", 1))!.Size);
        var verdict = await engine.GetVerdictAsync("b");
        Assert.Equal(0.95f, verdict!.Rung);
    }

    [Fact]
    public async Task Resending_an_external_id_returns_the_original_verdict_and_stores_nothing()
    {
        await using var engine = await TempStores.CreateAsync(_stores.NewSqlite(), Scheme);
        var (a, b) = Pair(3, 0.995);
        await engine.InsertAsync(new VectorInput("a", a));
        var original = (await engine.InsertAsync(new VectorInput("b", b))).Verdict!;

        var again = (await engine.InsertAsync(new VectorInput("b", Random(99)))).Verdict!;

        Assert.True(again.Repeated);
        Assert.Equal(original with { Repeated = true }, again);
        Assert.Equal(2, (await engine.GetStatsAsync()).Vectors);
    }

    [Fact]
    public async Task The_same_id_sent_concurrently_is_stored_once_with_one_verdict()
    {
        await using var engine = await TempStores.CreateAsync(_stores.NewSqlite(), Scheme);
        var v = Random(4);
        using var start = new ManualResetEventSlim();
        var sends = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            start.Wait();
            return (await engine.InsertAsync(new VectorInput("same", v))).Verdict!;
        })).ToList();
        start.Set();
        var verdicts = await Task.WhenAll(sends);

        Assert.Single(verdicts.Select(x => x.VectorId).Distinct());
        Assert.Single(verdicts, x => !x.Repeated);
        Assert.Equal(1, (await engine.GetStatsAsync()).Vectors);
    }

    [Fact]
    public async Task Eight_producers_inserting_near_duplicate_pairs_at_once_end_with_every_pair_co_clustered()
    {
        await using var engine = await TempStores.CreateAsync(_stores.NewSqlite(), Scheme);
        const int PairsPerProducer = 40;
        using var start = new ManualResetEventSlim();
        var producers = Enumerable.Range(0, 8).Select(p => Task.Run(async () =>
        {
            var batchA = new List<VectorInput>();
            var batchB = new List<VectorInput>();
            for (var i = 0; i < PairsPerProducer; i++)
            {
                var (a, b) = Pair((ulong)(1000 + (p * PairsPerProducer) + i), 0.995);
                batchA.Add(new VectorInput($"p{p}-{i}-a", a));
                batchB.Add(new VectorInput($"p{p}-{i}-b", b));
            }

            start.Wait();
            // The two halves of each pair race each other from two tasks.
            await Task.WhenAll(engine.InsertAsync(batchA), Task.Run(() => engine.InsertAsync(batchB)));
        })).ToList();
        start.Set();
        await Task.WhenAll(producers);

        for (var p = 0; p < 8; p++)
        {
            for (var i = 0; i < PairsPerProducer; i++)
            {
                var cluster = await engine.GetClusterOfAsync($"p{p}-{i}-a", 0);
                Assert.Contains(cluster!.Members, m => m.ExternalId == $"p{p}-{i}-b");
            }
        }
    }

    [Fact]
    public async Task Reopening_the_store_restores_verdicts_clusters_and_answers_resends()
    {
        var store = _stores.NewSqlite();
        var (a, b) = Pair(5, 0.995);
        Verdict before;
        await using (var engine = await TempStores.CreateAsync(store, Scheme))
        {
            await engine.InsertAsync([new VectorInput("a", a), new VectorInput("c", Random(6))]);
            before = (await engine.InsertAsync(new VectorInput("b", b))).Verdict!;
        }

        await using var reopened = await DedupEngine.OpenAsync(Storage.DedupStores.Open(store));
        var again = (await reopened.InsertAsync(new VectorInput("b", b))).Verdict!;

        Assert.Equal(before with { Repeated = true }, again);
        Assert.Equal(3, (await reopened.GetStatsAsync()).Vectors);
        Assert.Equal(2, (await reopened.GetClusterOfAsync("a", 0))!.Size);
        var rng = new SplitMix64(555);
        var d = new float[64];
        SyntheticVectors.NearDuplicate(a, 0.995, ref rng, d);
        var late = (await reopened.InsertAsync(new VectorInput("d", d))).Verdict!;
        Assert.Equal("a", late.Canonical);
        Assert.True(late.VectorId > before.VectorId, "ids issued after a restart stay larger than stored ones");
    }

    [Theory]
    [InlineData("wrong_dimension", "items[1].vector")]
    [InlineData("not_a_number", "items[1].vector[3]")]
    [InlineData("infinite", "items[1].vector[3]")]
    [InlineData("zero_norm", "items[1].vector")]
    [InlineData("empty_id", "items[1].id")]
    [InlineData("id_too_long", "items[1].id")]
    public async Task A_bad_item_gets_an_error_naming_the_field_while_the_rest_of_its_batch_goes_in(string code, string field)
    {
        await using var engine = await TempStores.CreateAsync(_stores.NewSqlite(), Scheme);
        var bad = code switch
        {
            "wrong_dimension" => new VectorInput("bad", new float[63]),
            "not_a_number" => new VectorInput("bad", With(3, float.NaN)),
            "infinite" => new VectorInput("bad", With(3, float.PositiveInfinity)),
            "zero_norm" => new VectorInput("bad", new float[64]),
            "empty_id" => new VectorInput(string.Empty, Random(7)),
            _ => new VectorInput(new string('x', 257), Random(7)),
        };

        var results = await engine.InsertAsync([new VectorInput("good-1", Random(8)), bad, new VectorInput("good-2", Random(9))]);

        Assert.Null(results[0].Error);
        Assert.Null(results[2].Error);
        Assert.Null(results[1].Verdict);
        Assert.Equal(code, results[1].Error!.Code);
        Assert.Equal(field, results[1].Error!.Field);
        Assert.Contains(field, results[1].Error!.Message, StringComparison.Ordinal);
        Assert.Equal(2, (await engine.GetStatsAsync()).Vectors);
        Assert.Null(await engine.GetVerdictAsync("bad"));
    }

    [Fact]
    public async Task An_engine_whose_shards_were_claimed_by_another_stops_and_stores_nothing_more()
    {
        var store = _stores.NewSqlite();
        await using var first = await TempStores.CreateAsync(store, Scheme);
        await first.InsertAsync(new VectorInput("before", Random(30)));

        // A second process opens the same store: its claim moves every shard to a new epoch.
        await using (var second = await DedupEngine.OpenAsync(Storage.DedupStores.Open(store)))
        {
            Assert.Equal(1, (await second.GetStatsAsync()).Vectors);
        }

        var refused = await Assert.ThrowsAsync<EngineStoppedException>(() => first.InsertAsync(new VectorInput("after", Random(31))));
        var later = await Assert.ThrowsAsync<EngineStoppedException>(() => first.InsertAsync(new VectorInput("later", Random(32))));

        Assert.IsType<Storage.StaleEpochException>(refused.InnerException);
        Assert.Contains("restart", later.Message, StringComparison.Ordinal);
        await using var reopened = await DedupEngine.OpenAsync(Storage.DedupStores.Open(store));
        Assert.Equal(1, (await reopened.GetStatsAsync()).Vectors);
        Assert.Null(await reopened.GetVerdictAsync("after"));
    }

    [Fact]
    public async Task A_stored_verdict_naming_a_vector_that_was_never_stored_is_derived_again_at_load()
    {
        // What a failed concurrent commit can leave behind: q's verdict names m, whose own commit never happened.
        var store = _stores.NewSqlite();
        await using (var created = Storage.DedupStores.Open(store))
        {
            await DedupEngine.CreateAsync(created, Scheme);
            var hasher = new LshHasher(Scheme);
            var (p, q) = Pair(40, 0.995);
            var missing = VectorId.Create(1_000, Scheme.HomeShard("m"), 0);
            var rows = new[] { ("p", p, 2_000L, new Storage.StoredVerdict(false, 0, 0, 0)), ("q", q, 3_000L, new Storage.StoredVerdict(true, missing, missing, 0.999f)), ("r", Random(41), 4_000L, new Storage.StoredVerdict(true, missing, missing, 0.999f)) }
                .Select(x =>
                {
                    var keys = new ulong[Scheme.Tables];
                    hasher.ComputeBucketKeys(x.Item2, keys);
                    var sketch = hasher.ComputeSketch(x.Item2);
                    var home = Scheme.HomeShard(x.Item1);
                    return new Storage.StoredVector(VectorId.Create(x.Item3, home, 0), x.Item1, home, x.Item2, keys, sketch.Low, sketch.High, x.Item4, DateTimeOffset.UtcNow);
                }).ToList();
            var shards = rows.Select(r => r.HomeShard).Distinct().ToList();
            var epochs = await created.ClaimShardsAsync("test", shards);
            var edge = new Storage.VerifiedEdge(rows[0].VectorId, rows[1].VectorId, VectorMath.Cosine(p, q));
            await created.CommitAsync(new Storage.WriteBatch([.. shards.Select((s, i) => new Storage.ShardFence(s, epochs[i]))], rows, [edge]));
        }

        await using var engine = await DedupEngine.OpenAsync(Storage.DedupStores.Open(store));
        var q2 = await engine.GetVerdictAsync("q");
        var r2 = await engine.GetVerdictAsync("r");

        Assert.Equal(VerdictKind.Duplicate, q2!.Kind);
        Assert.Equal("p", q2.Canonical);
        Assert.Equal("p", q2.BestMatch);
        Assert.Equal(VerdictKind.New, r2!.Kind);
    }

    [Fact]
    public async Task An_oversized_batch_is_refused_whole_naming_the_limit()
    {
        await using var engine = await TempStores.CreateAsync(_stores.NewSqlite(), Scheme, new DedupEngineOptions { MaxBatchSize = 2 });

        var error = await Assert.ThrowsAsync<ArgumentException>(() => engine.InsertAsync([.. Enumerable.Range(0, 3).Select(i => new VectorInput($"{i}", Random((ulong)i + 20)))]));

        Assert.Contains("at most 2", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, (await engine.GetStatsAsync()).Vectors);
    }

    [Fact]
    public async Task An_unknown_rung_is_refused_naming_the_known_ones()
    {
        await using var engine = await TempStores.CreateAsync(_stores.NewSqlite(), Scheme);

        var error = Assert.Throws<ArgumentException>(() => engine.RungIndexOf(0.5f));

        Assert.Contains("0.99, 0.95", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Near_duplicate_query_finds_the_stored_copy_without_storing_the_query()
    {
        await using var engine = await TempStores.CreateAsync(_stores.NewSqlite(), Scheme);
        var (a, b) = Pair(10, 0.995);
        await engine.InsertAsync([new VectorInput("a", a), new VectorInput("x", Random(11))]);

        var found = await engine.FindNearDuplicatesAsync(b);

        Assert.Equal("a", Assert.Single(found).ExternalId);
        Assert.Equal(2, (await engine.GetStatsAsync()).Vectors);
    }

    internal static float[] Random(ulong seed)
    {
        var rng = new SplitMix64(seed);
        var v = new float[64];
        SyntheticVectors.RandomUnit(ref rng, v);
        return v;
    }

    internal static (float[] A, float[] B) Pair(ulong seed, double cosine)
    {
        var a = Random(seed);
        var rng = new SplitMix64(seed + 7777);
        var b = new float[64];
        SyntheticVectors.NearDuplicate(a, cosine, ref rng, b);
        return (a, b);
    }

    private static float[] With(int index, float value)
    {
        var v = Random(12);
        v[index] = value;
        return v;
    }

    public void Dispose() => _stores.Dispose();
}
