using System.Diagnostics;
using LshCluster.Abstractions.Shards;
using LshCluster.Grains.Hosting;
using LshCluster.Storage;
using LshCluster.Storage.Postgres;
using LshCluster.Storage.Tests;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.TestingHost;
using Xunit.Abstractions;

namespace LshCluster.Grains.Tests;

/// <summary>
/// Two silos with membership in our PostgreSQL tables and the failure-detection options of ADR 0006: when one is
/// killed, its shard grains answer again on the survivor, each under a new epoch (which fences out anything the dead
/// activation might still write). An in-process silo killed by TestingHost still marks itself dead as its host stops,
/// so the time measured here is the takeover's own; a crashed process must first be found dead by its peers' probes
/// (the multi-process kill tests measure that).
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class TakeoverTests(PostgresServer server, ITestOutputHelper output)
{
    private const int Shards = 32;
    private const string ConnectionKey = "LshCluster:Postgres";

    [Fact]
    public async Task A_killed_silos_shards_answer_on_the_survivor_under_new_epochs()
    {
        var connectionString = await server.CreateDatabaseAsync("takeover");
        await using (var store = new PostgresDedupStore(connectionString))
        {
            await store.MigrateAsync();
            await store.CreateClusterAsync(TestClusters.Scheme(Shards));
        }

        var builder = new TestClusterBuilder(2);
        builder.Options.UseTestClusterMembership = false;
        builder.Properties[ConnectionKey] = connectionString;
        builder.AddSiloBuilderConfigurator<PostgresSilo>();
        builder.AddClientBuilderConfigurator<PostgresClient>();
        var cluster = builder.Build();
        try
        {
            await cluster.DeployAsync();
            await cluster.WaitForLivenessToStabilizeAsync();
            var before = await Task.WhenAll(Enumerable.Range(0, Shards).Select(s => cluster.GrainFactory.GetGrain<IShardGrain>(s).AscendAsync(0, 0)));
            Assert.All(before, reply => Assert.Equal(1, reply.Epoch));
            var victim = cluster.SecondarySilos[0];
            var onVictim = (await TestClusters.PlacementAsync(cluster)).Where(p => p.Value.Equals(victim.SiloAddress)).Select(p => p.Key).ToList();
            Assert.NotEmpty(onVictim);

            await cluster.KillSiloAsync(victim);
            var clock = Stopwatch.StartNew();
            var after = await Task.WhenAll(Enumerable.Range(0, Shards).Select(AnswerAsync));
            var elapsed = clock.Elapsed;

            Assert.True(elapsed < TimeSpan.FromSeconds(15), $"the killed silo's shards answered again after {elapsed.TotalSeconds:F1} s");
            Assert.All(onVictim, s => Assert.True(after[s].Epoch > before[s].Epoch, $"shard {s} answered under epoch {after[s].Epoch}, not a new one"));
            var placement = await TestClusters.PlacementAsync(cluster);
            var survivor = Assert.Single(cluster.GetActiveSilos()).SiloAddress;
            Assert.All(Enumerable.Range(0, Shards), s => Assert.Equal(survivor, placement[s]));
            output.WriteLine($"{onVictim.Count} of {Shards} shards were on the killed silo; all answered again on the survivor {elapsed.TotalSeconds:F2} s after the (self-announced) kill");
        }
        finally
        {
            await cluster.DisposeAsync();
        }

        // Until the survivor has taken the shard over, a call may fail or time out: keep asking, as a client would.
        async Task<AscendReply> AnswerAsync(int shard)
        {
            var giveUp = Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    return await cluster.GrainFactory.GetGrain<IShardGrain>(shard).AscendAsync(0, 0);
                }
                catch (Exception) when (giveUp.Elapsed < TimeSpan.FromSeconds(60))
                {
                    await Task.Delay(100);
                }
            }
        }
    }

    /// <summary>A silo on the test's PostgreSQL: membership, shard grains, and replies within five seconds.</summary>
    private sealed class PostgresSilo : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            var connectionString = siloBuilder.Configuration[ConnectionKey]!;
            siloBuilder
                .UseLshClusterMembership(connectionString)
                .AddLshClusterShards(_ => DedupStores.Open(DedupStores.PostgresPrefix + connectionString))
                .Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(5));
        }
    }

    /// <summary>The test's client finds the silos' gateways in the same tables.</summary>
    private sealed class PostgresClient : IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder clientBuilder) => clientBuilder
            .UseAdoNetClustering(o => (o.Invariant, o.ConnectionString) = ("Npgsql", configuration[ConnectionKey]!))
            .Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(5));
    }
}
