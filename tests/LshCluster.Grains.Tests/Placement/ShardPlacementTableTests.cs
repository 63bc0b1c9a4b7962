using LshCluster.Abstractions.Shards;
using LshCluster.Grains.Placement;
using LshCluster.Storage;

namespace LshCluster.Grains.Tests.Placement;

/// <summary>The placement table while the store cannot be read, and once it can.</summary>
public sealed class ShardPlacementTableTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lshc-placement-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task A_store_that_cannot_be_read_yet_fails_placement_with_an_error_a_caller_retries_on_and_is_read_again_later()
    {
        // The store's file is not a database yet: every read fails (as with a database that is restarting).
        var file = Path.Combine(_directory, "cluster.db");
        await File.WriteAllTextAsync(file, new string('x', 4096));
        var path = DedupStores.SqlitePrefix + file;
        await using var store = DedupStores.Open(path);
        var table = new ShardPlacementTable(store);
        var silos = new[] { SiloAddress.New(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 11111), 1) };

        var error = await Assert.ThrowsAsync<ShardActivationException>(() => table.OwnersAsync(silos));
        Assert.Contains("retry", error.Message, StringComparison.Ordinal);

        // The store comes back: the failure was not kept, and every shard gets an owner.
        File.Delete(file);
        await TestClusters.CreateStoreAsync(path, 96);
        var owners = await table.OwnersAsync(silos);
        Assert.Equal(96, owners.Length);
        Assert.All(owners, owner => Assert.Equal(silos[0], owner));
    }
}
