using LshCluster.Protocol.Internal;
using LshCluster.Protocol.V1;
using LshCluster.Protocol.Wire;

namespace LshCluster.Protocol;

/// <summary>The methods of the .NET client's service in lshcluster_internal.proto.</summary>
public static class InternalApi
{
    private const string Silo = "lshcluster.internal.v1.Silo";

    /// <summary>Silo.InsertHashed: vectors hashed by the caller.</summary>
    public static readonly GrpcMethod<HashedInsertRequest, InsertResponse> InsertHashed = new(Silo, "InsertHashed", HashedInsertRequest.Parser, InsertResponse.Parser);

    /// <summary>Silo.GetScheme: the cluster's LSH scheme.</summary>
    public static readonly GrpcMethod<GetSchemeRequest, SchemeBlob> GetScheme = new(Silo, "GetScheme", GetSchemeRequest.Parser, SchemeBlob.Parser);
}
