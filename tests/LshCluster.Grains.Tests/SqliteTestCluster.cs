using Orleans.TestingHost;

namespace LshCluster.Grains.Tests;

/// <summary>
/// In-process silos hosting shard grains over one SQLite store of a fresh cluster, started with every silo's view of
/// the cluster settled; deleted with the store on dispose.
/// </summary>
internal sealed class SqliteTestCluster : IAsyncDisposable
{
    private readonly string _directory;

    private SqliteTestCluster(string directory, TestCluster cluster)
    {
        _directory = directory;
        Cluster = cluster;
    }

    /// <summary>The running cluster.</summary>
    public TestCluster Cluster { get; }

    /// <summary>Creates a cluster of <paramref name="shards"/> shards and starts <paramref name="silos"/> silos on it.</summary>
    public static async Task<SqliteTestCluster> StartAsync(int silos, int shards)
    {
        var directory = Directory.CreateTempSubdirectory("lshc-grains-").FullName;
        var store = $"sqlite:{Path.Combine(directory, "store.db")}";
        await TestClusters.CreateStoreAsync(store, shards);
        var builder = new TestClusterBuilder((short)silos);
        builder.Properties[ShardGrainTests.StoreKey] = store;
        builder.AddSiloBuilderConfigurator<ShardGrainTests.StoreConfigurator>();
        var cluster = builder.Build();
        await cluster.DeployAsync();
        await TestClusters.WaitForViewsAsync(cluster, silos);
        return new SqliteTestCluster(directory, cluster);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await Cluster.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }
}
