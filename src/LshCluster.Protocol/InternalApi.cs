using LshCluster.Protocol.Internal;
using LshCluster.Protocol.V1;
using LshCluster.Protocol.Wire;

namespace LshCluster.Protocol;

/// <summary>The methods of the silo-to-silo service in lshcluster_internal.proto.</summary>
public static class InternalApi
{
    private const string Silo = "lshcluster.internal.v1.Silo";

    /// <summary>Silo.Call: a batch of shard calls.</summary>
    public static readonly GrpcMethod<ShardCalls, ShardReplies> Call = new(Silo, "Call", ShardCalls.Parser, ShardReplies.Parser);

    /// <summary>Silo.InsertHashed: vectors hashed by the caller, to their home shards' owner.</summary>
    public static readonly GrpcMethod<HashedInsertRequest, InsertResponse> InsertHashed = new(Silo, "InsertHashed", HashedInsertRequest.Parser, InsertResponse.Parser);

    /// <summary>Silo.DeleteAtHome: deletions, to their home shards' owner.</summary>
    public static readonly GrpcMethod<DeleteRequest, DeleteResponse> DeleteAtHome = new(Silo, "DeleteAtHome", DeleteRequest.Parser, DeleteResponse.Parser);

    /// <summary>Silo.GetScheme: the cluster's LSH scheme.</summary>
    public static readonly GrpcMethod<GetSchemeRequest, SchemeBlob> GetScheme = new(Silo, "GetScheme", GetSchemeRequest.Parser, SchemeBlob.Parser);
}
