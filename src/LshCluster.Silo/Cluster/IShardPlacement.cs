using LshCluster.Protocol.Internal;
using LshCluster.Protocol.V1;

namespace LshCluster.Silo.Cluster;

/// <summary>Where each shard lives now, as this silo last read it from the membership table.</summary>
internal interface IShardPlacement
{
    /// <summary>This silo's address.</summary>
    string Self { get; }

    /// <summary>Increases whenever a read of the map finds an owner changed.</summary>
    long Version { get; }

    /// <summary>The address of the silo that owns <paramref name="shard"/>, or null while it has no live owner.</summary>
    string? OwnerOf(int shard);

    /// <summary>Reads the shard map again (after a "not owner" answer or an unreachable owner).</summary>
    Task RefreshAsync(CancellationToken cancellationToken = default);
}

/// <summary>The other silos, reached over the wire.</summary>
internal interface IRemoteSilos
{
    /// <summary>One shard call to the silo at <paramref name="address"/> (batched with others on the way).</summary>
    Task<ShardReply> CallAsync(string address, ShardCall call, CancellationToken cancellationToken = default);

    /// <summary>Hashed vectors to the silo owning their home shards.</summary>
    Task<InsertResponse> InsertHashedAsync(string address, HashedInsertRequest request, DateTimeOffset deadline, CancellationToken cancellationToken = default);

    /// <summary>Deletions to the silo owning the ids' home shards.</summary>
    Task<DeleteResponse> DeleteAtHomeAsync(string address, DeleteRequest request, DateTimeOffset deadline, CancellationToken cancellationToken = default);
}
