using LshCluster.Abstractions.Shards;
using LshCluster.Core.Hashing;
using LshCluster.Core.Ids;
using LshCluster.Core.Vectors;
using LshCluster.Grains.Hosting;
using LshCluster.Grains.Shards;
using LshCluster.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace LshCluster.Grains.Tests;

/// <summary>
/// Shard grains on an in-process Orleans cluster (Orleans.TestingHost) over a real SQLite store: bucket operations and
/// compare-and-set links through grain calls, and an activation that claims a new epoch, loads what the store holds
/// and so fences out the writes of the activation before it.
/// </summary>
public sealed class ShardGrainTests : IAsyncLifetime
{
    private const int Shards = 8;
    internal const string StoreKey = "LshCluster:Store";
    private static readonly LshScheme Scheme = new(LshFamily.CrossPolytope, dimension: 16, hashesPerTable: 1, tables: 2, seed: 3, rungs: [0.9f], shardCount: Shards);

    private readonly string _directory = Directory.CreateTempSubdirectory("lshc-grains-").FullName;
    private string Store => $"sqlite:{Path.Combine(_directory, "store.db")}";

    public async Task InitializeAsync()
    {
        await using var store = DedupStores.Open(Store);
        await store.MigrateAsync();
        await store.CreateClusterAsync(Scheme);
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Of_two_vectors_sharing_a_bucket_the_second_finds_the_first_through_the_grain()
    {
        await using var cluster = await StartAsync();
        var shard = cluster.GrainFactory.GetGrain<IShardGrain>(3);
        var key = KeyAt(3);

        var first = await shard.RunBucketOperationsAsync(Request(new BucketOperation(0, Id(1), key, 0b1010, 0, Lookup: true, Insert: true)));
        var second = await shard.RunBucketOperationsAsync(Request(
            new BucketOperation(0, Id(2), key, 0b1011, 0, Lookup: true, Insert: true),
            new BucketOperation(1, Id(3), key + 1, 0, 0, Lookup: true, Insert: false)));

        Assert.Empty(PackedStructs.Read<Candidate>(first.Candidates, "candidates").ToArray());
        Assert.Equal([new Candidate(0, Id(1))], PackedStructs.Read<Candidate>(second.Candidates, "candidates").ToArray());
        Assert.Equal(1, second.Epoch); // the first activation of the shard claimed epoch 1
    }

    [Fact]
    public async Task A_root_is_linked_once_and_ascends_to_its_parent()
    {
        await using var cluster = await StartAsync();
        var shard = cluster.GrainFactory.GetGrain<IShardGrain>(5);
        var (child, parent, other) = (Id(30, home: 5), Id(10, home: 5), Id(20, home: 5));

        Assert.True((await shard.LinkAsync(child, parent, 0)).Linked);
        Assert.False((await shard.LinkAsync(child, other, 0)).Linked); // no longer a root: compare-and-set refuses
        Assert.Equal(new AscendReply(1, parent, true), await shard.AscendAsync(child, 0));
        await Assert.ThrowsAsync<InvalidOperationException>(() => shard.LinkAsync(parent, child, 0)); // parents are older ids
    }

    [Fact]
    public async Task An_activation_joins_clusters_through_a_ghost_whose_record_has_not_been_written_yet()
    {
        // Another batch committed edges to g while g's own batch was still running; that batch then failed, and records
        // g as a ghost only when it gives up — after this activation has read the ghosts. The edges must still join a
        // and b here, as they do in the memory of the shards that linked through g and in any later load.
        var (a, g, b) = (Id(1, home: 5), Id(2, home: 6), Id(3, home: 5));
        await using (var store = DedupStores.Open(Store))
        {
            await store.CommitAsync(new WriteBatch([new ShardFence(5, 0)], [Row(a, KeyAt(2)), Row(b, KeyAt(3))], [new VerifiedEdge(a, g, 0.95f), new VerifiedEdge(b, g, 0.95f)]));
        }

        await using var cluster = await StartAsync();
        var home = cluster.GrainFactory.GetGrain<IShardGrain>(5);
        var ghostsHome = cluster.GrainFactory.GetGrain<IShardGrain>(6);

        Assert.Equal((a, true), ((await home.AscendAsync(b, 0)).Node, (await home.AscendAsync(a, 0)).IsRoot));
        var forest = await ghostsHome.ParentsAsync(0);
        Assert.Equal([new KeyValuePair<long, long>(g, a)], PackedStructs.Read<KeyValuePair<long, long>>(forest.Pairs, "pairs").ToArray());
        Assert.Equal([g], PackedStructs.Read<long>(forest.Deleted, "deleted").ToArray()); // a ghost: in the forest, not a member
    }

    [Fact]
    public async Task A_new_activation_takes_a_new_epoch_loads_the_stored_rows_and_fences_out_the_old_one()
    {
        var cluster = await StartAsync();
        var key = KeyAt(2);
        long firstEpoch;
        try
        {
            var shard = cluster.GrainFactory.GetGrain<IShardGrain>(2);
            firstEpoch = (await shard.RunBucketOperationsAsync(Request(new BucketOperation(0, Id(1, home: 2), key, 0, 0, Lookup: true, Insert: true)))).Epoch;

            // What a commit of that insert writes, fenced by the epoch the grain reported.
            await using var store = DedupStores.Open(Store);
            await store.CommitAsync(new WriteBatch([new ShardFence(2, firstEpoch)], [Row(Id(1, home: 2), key)], []));
        }
        finally
        {
            await cluster.DisposeAsync();
        }

        cluster = await StartAsync();
        try
        {
            var shard = cluster.GrainFactory.GetGrain<IShardGrain>(2);
            var reply = await shard.RunBucketOperationsAsync(Request(new BucketOperation(0, Id(9, home: 2), key, 0, 0, Lookup: true, Insert: false)));

            Assert.Equal(firstEpoch + 1, reply.Epoch);
            Assert.Equal([new Candidate(0, Id(1, home: 2))], PackedStructs.Read<Candidate>(reply.Candidates, "candidates").ToArray());
            await using var store = DedupStores.Open(Store);
            await Assert.ThrowsAsync<StaleEpochException>(() =>
                store.CommitAsync(new WriteBatch([new ShardFence(2, firstEpoch)], [Row(Id(2, home: 2), key)], [])));
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_repeated_id_waits_for_the_first_inserts_verdict_while_the_grain_serves_other_calls_and_learns_why_it_failed()
    {
        await using var cluster = await StartAsync();
        var shard = cluster.GrainFactory.GetGrain<IShardGrain>(4);
        var first = Registered(await shard.RegisterAsync(Registration("x", "y")));
        var again = Registered(await shard.RegisterAsync(Registration("x")));
        Assert.True(first[0].IsNew && first[1].IsNew);
        Assert.Equal((first[0].Id, false, false), (again[0].Id, again[0].IsNew, again[0].Acknowledged));

        // The waits are pending while the grain serves the calls that end them: a wait that held the grain's turn
        // would block them, and this test would time out.
        var waitX = shard.WaitVerdictsAsync(PackedStructs.Pack<long>([first[0].Id]));
        var waitY = shard.WaitVerdictsAsync(PackedStructs.Pack<long>([first[1].Id]));
        await Task.Delay(100);
        Assert.False(waitX.IsCompleted);
        var verdict = new StoredVerdict(true, Id(1), Id(2), 0.97f);
        await shard.AcknowledgeAsync(PackedStructs.Pack<VerdictOf>([new VerdictOf(first[0].Id, verdict)]));
        await shard.ForgetAsync(PackedStructs.Pack<long>([first[1].Id]), "the store refused the batch");

        var x = await waitX.WaitAsync(TimeSpan.FromSeconds(10));
        var y = await waitY.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal([verdict], PackedStructs.Read<StoredVerdict>(x.Verdicts, "verdicts").ToArray());
        Assert.Null(x.Failures[0]);
        Assert.Contains("the store refused the batch", y.Failures[0]);
        Assert.True(Registered(await shard.RegisterAsync(Registration("y")))[0].IsNew); // forgotten: it can be sent again
        Assert.True(Registered(await shard.RegisterAsync(Registration("x")))[0].Acknowledged);
    }

    [Fact]
    public async Task A_delete_waits_for_the_insert_in_flight_and_once_durable_leaves_a_ghost_in_the_forests()
    {
        await using var cluster = await StartAsync();
        var shard = cluster.GrainFactory.GetGrain<IShardGrain>(6);
        var id = Registered(await shard.RegisterAsync(Registration("z")))[0].Id;
        Assert.Equal([new DeleteOutcome(id, DeleteStart.Busy), new DeleteOutcome(0, DeleteStart.NotStored)], Outcomes(await shard.BeginDeleteAsync(["z", "nobody"])));

        var settled = shard.WaitSettledAsync(PackedStructs.Pack<long>([id]));
        await shard.AcknowledgeAsync(PackedStructs.Pack<VerdictOf>([new VerdictOf(id, new StoredVerdict(false, id, 0, 0))]));
        await settled.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal([new DeleteOutcome(id, DeleteStart.Started)], Outcomes(await shard.BeginDeleteAsync(["z"])));
        Assert.Equal([new DeleteOutcome(id, DeleteStart.Busy)], Outcomes(await shard.BeginDeleteAsync(["z"]))); // a second delete waits for the first
        Assert.NotNull(await shard.LookupExternalAsync("z", withValues: false)); // findable until durable
        await shard.EndDeleteAsync(PackedStructs.Pack<long>([id]), committed: true);

        Assert.Null(await shard.LookupExternalAsync("z", withValues: false));
        Assert.Equal([id], PackedStructs.Read<long>((await shard.ParentsAsync(0)).Deleted, "deleted").ToArray());
        Assert.Equal(new CountsReply(0, 0), await shard.CountsAsync());
    }

    [Fact]
    public async Task Verification_finds_the_exact_cosine_to_a_candidate_homed_here_and_leaves_out_a_far_one()
    {
        await using var cluster = await StartAsync();
        var shard = cluster.GrainFactory.GetGrain<IShardGrain>(1);
        var stored = Registered(await shard.RegisterAsync(Registration("near", "far")));
        var query = Vector(1);
        query[0] += 0.2f; // cosine to Vector(1) just under 1
        var expected = Cosine(query, Vector(1));

        var reply = await shard.VerifyAsync(new VerifyRequest(
            PackedStructs.Pack<QueryHeader>([new QueryHeader(7, Id(99, home: 3), Dot(query, query), Dot(query, query))]),
            [NumberBytes.Bytes(query)], [NumberBytes.Bytes(query)],
            PackedStructs.Pack<PackedCheck>([new PackedCheck(0, stored[0].Id), new PackedCheck(0, stored[1].Id)]),
            LowestRung: 0.9f, Screen: -1));

        var edge = Assert.Single(PackedStructs.Read<FoundEdge>(reply.Edges, "edges").ToArray());
        Assert.Equal((7, Id(99, home: 3), stored[0].Id), (edge.Item, edge.VectorId, edge.OtherId));
        Assert.Equal(expected, edge.Cosine, 5);
    }

    [Fact]
    public async Task A_silos_verifier_hands_each_shard_its_checks_from_one_message_that_carries_each_vector_once()
    {
        await using var cluster = await StartAsync();
        var atOne = Registered(await cluster.GrainFactory.GetGrain<IShardGrain>(1).RegisterAsync(Registration("near", "far")));
        var atTwo = Registered(await cluster.GrainFactory.GetGrain<IShardGrain>(2).RegisterAsync(Registration("near")));
        var query = Vector(1);
        query[0] += 0.2f;
        var other = Vector(1);
        other[1] -= 0.3f;
        var headers = PackedStructs.Pack<QueryHeader>([new QueryHeader(7, Id(99, home: 3), Dot(query, query), Dot(query, query)),
            new QueryHeader(8, Id(98, home: 3), Dot(other, other), Dot(other, other))]);

        // Query 0 against both of shard 1's vectors; both queries against shard 2's.
        var request = new SiloVerifyRequest(headers, [NumberBytes.Bytes(query), NumberBytes.Bytes(other)], [NumberBytes.Bytes(query), NumberBytes.Bytes(other)],
            [1, 2], [PackedStructs.Pack<PackedCheck>([new PackedCheck(0, atOne[0].Id), new PackedCheck(0, atOne[1].Id)]),
                PackedStructs.Pack<PackedCheck>([new PackedCheck(1, atTwo[0].Id), new PackedCheck(0, atTwo[0].Id)])], LowestRung: 0.9f, Screen: -1);
        var silo = cluster.Primary!.SiloAddress.ToParsableString();
        var reply = await cluster.GrainFactory.GetGrain<ISiloVerifierGrain>(silo).VerifyAsync(request);

        var edges = PackedStructs.Read<FoundEdge>(reply.Edges, "edges").ToArray().OrderBy(e => (e.Item, e.OtherId)).ToArray();
        Assert.Equal([(7, atOne[0].Id), (7, atTwo[0].Id), (8, atTwo[0].Id)], edges.Select(e => (e.Item, e.OtherId)));
        Assert.Equal(Cosine(other, Vector(1)), edges[2].Cosine, 5);
        Assert.Equal(Id(98, home: 3), edges[2].VectorId);

        // A check naming a query the message does not carry is refused, not read out of bounds.
        var bad = request with { Shards = [1], Checks = [PackedStructs.Pack<PackedCheck>([new PackedCheck(5, atOne[0].Id)])] };
        await Assert.ThrowsAsync<InvalidDataException>(() => cluster.GrainFactory.GetGrain<ISiloVerifierGrain>(silo).VerifyAsync(bad));
    }

    // Vectors named v{n}: "near" is Vector(1), "far" points the other way; the projection is the vector itself.
    private static RegisterRequest Registration(params string[] ids)
    {
        var vectors = ids.Select(id => id == "far" ? Vector(-1) : Vector(1)).ToArray();
        return new RegisterRequest(ids, [.. vectors.Select(v => NumberBytes.Bytes(v))],
            PackedStructs.Pack<float>([.. vectors.Select(v => Dot(v, v))]), [.. vectors.Select(v => NumberBytes.Bytes(v))]);
    }

    private static float[] Vector(float sign) => [.. Enumerable.Range(1, Scheme.Dimension).Select(i => sign * i)];

    private static float Dot(float[] a, float[] b) => a.Zip(b).Sum(p => p.First * p.Second);

    private static float Cosine(float[] a, float[] b) => Dot(a, b) / MathF.Sqrt(Dot(a, a) * Dot(b, b));

    private static RegisteredItem[] Registered(RegisterReply reply) => PackedStructs.Read<RegisteredItem>(reply.Items, "items").ToArray();

    private static DeleteOutcome[] Outcomes(BeginDeleteReply reply) => PackedStructs.Read<DeleteOutcome>(reply.Outcomes, "outcomes").ToArray();

    private async Task<TestCluster> StartAsync()
    {
        var builder = new TestClusterBuilder(1);
        builder.Properties[StoreKey] = Store;
        builder.AddSiloBuilderConfigurator<StoreConfigurator>();
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    private static BucketRequest Request(params BucketOperation[] operations) => new(PackedStructs.Pack<BucketOperation>(operations), 128);

    private static long Id(int sequence, int home = 0) => VectorId.Create(1_000, home, sequence);

    // A table-0 bucket key that lands on the given shard.
    private static ulong KeyAt(int shard)
    {
        for (var key = 1UL; ; key += 2)
        {
            if (Scheme.ShardOfBucket(0, key) == shard)
            {
                return key;
            }
        }
    }

    private static StoredVector Row(long id, ulong key) =>
        new(id, $"v{id}", VectorId.HomeShard(id), [.. Enumerable.Range(1, Scheme.Dimension).Select(i => (float)i)], [key, key],
            0, 0, new StoredVerdict(false, id, 0, 0), DateTimeOffset.UnixEpoch);

    /// <summary>Gives each test silo the shard grains over the store named in the cluster's properties.</summary>
    internal sealed class StoreConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) =>
            siloBuilder.AddLshClusterShards(sp => DedupStores.Open(sp.GetRequiredService<IConfiguration>()[StoreKey]!));
    }
}
