using LshCluster.Protocol.V1;
using LshCluster.Protocol.Wire;

namespace LshCluster.Protocol;

/// <summary>The methods of the public services in lshcluster.proto, for servers to map and clients to call.</summary>
public static class PublicApi
{
    private const string Ingest = "lshcluster.v1.Ingest";
    private const string Query = "lshcluster.v1.Query";
    private const string Admin = "lshcluster.v1.Admin";

    /// <summary>Ingest.Insert (unary batch).</summary>
    public static readonly GrpcMethod<InsertRequest, InsertResponse> Insert = new(Ingest, "Insert", InsertRequest.Parser, InsertResponse.Parser);

    /// <summary>Ingest.InsertStream (client-streaming).</summary>
    public static readonly GrpcMethod<InsertRequest, InsertResponse> InsertStream = new(Ingest, "InsertStream", InsertRequest.Parser, InsertResponse.Parser);

    /// <summary>Query.GetVector.</summary>
    public static readonly GrpcMethod<GetVectorRequest, GetVectorResponse> GetVector = new(Query, "GetVector", GetVectorRequest.Parser, GetVectorResponse.Parser);

    /// <summary>Query.GetCluster.</summary>
    public static readonly GrpcMethod<GetClusterRequest, Cluster> GetCluster = new(Query, "GetCluster", GetClusterRequest.Parser, Cluster.Parser);

    /// <summary>Query.NearDuplicates.</summary>
    public static readonly GrpcMethod<NearDuplicatesRequest, NearDuplicatesResponse> NearDuplicates = new(Query, "NearDuplicates", NearDuplicatesRequest.Parser, NearDuplicatesResponse.Parser);

    /// <summary>Query.ListClusters.</summary>
    public static readonly GrpcMethod<ListClustersRequest, ListClustersResponse> ListClusters = new(Query, "ListClusters", ListClustersRequest.Parser, ListClustersResponse.Parser);

    /// <summary>Query.GetStats.</summary>
    public static readonly GrpcMethod<GetStatsRequest, Stats> GetStats = new(Query, "GetStats", GetStatsRequest.Parser, Stats.Parser);

    /// <summary>Admin.ListSilos.</summary>
    public static readonly GrpcMethod<ListSilosRequest, ListSilosResponse> ListSilos = new(Admin, "ListSilos", ListSilosRequest.Parser, ListSilosResponse.Parser);

    /// <summary>Admin.GetShardMap.</summary>
    public static readonly GrpcMethod<GetShardMapRequest, ShardMap> GetShardMap = new(Admin, "GetShardMap", GetShardMapRequest.Parser, ShardMap.Parser);

    /// <summary>Admin.Drain.</summary>
    public static readonly GrpcMethod<DrainRequest, DrainResponse> Drain = new(Admin, "Drain", DrainRequest.Parser, DrainResponse.Parser);

    /// <summary>Admin.Delete.</summary>
    public static readonly GrpcMethod<DeleteRequest, DeleteResponse> Delete = new(Admin, "Delete", DeleteRequest.Parser, DeleteResponse.Parser);
}
