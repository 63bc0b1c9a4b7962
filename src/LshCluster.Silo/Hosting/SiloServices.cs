using LshCluster.Protocol;
using LshCluster.Protocol.V1;
using LshCluster.Protocol.Wire;
using LshCluster.Silo.Cluster;
using LshCluster.Silo.Engine;
using LshCluster.Silo.Http;
using LshCluster.Silo.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;

namespace LshCluster.Silo.Hosting;

/// <summary>The gRPC services every server serves from its engine (a silo adds its Admin calls).</summary>
internal static class SiloServices
{
    /// <summary>Domain errors to the status a caller can act on.</summary>
    public static RpcException? MapException(Exception e) => e switch
    {
        OverloadedException => Overloaded(e.Message),
        ArgumentException a => new RpcException(GrpcStatusCode.InvalidArgument,
            a.ParamName is { } name ? a.Message.Replace($" (Parameter '{name}')", string.Empty, StringComparison.Ordinal) : a.Message),
        EngineStoppedException or ShardUnavailableException or NotServingException or Abstractions.Shards.ShardActivationException => new RpcException(GrpcStatusCode.Unavailable, e.Message),
        System.Data.Common.DbException or IOException or System.Net.Sockets.SocketException or TimeoutException =>
            new RpcException(GrpcStatusCode.Unavailable, $"the cluster's database cannot be reached now ({e.Message}); nothing was changed by this call, retry it"),
        _ => null,
    };

    /// <summary>
    /// The services any silo serves from its engine: Ingest, Query, Delete, and for the .NET client the scheme and
    /// inserts it hashed itself.
    /// </summary>
    public static void MapPublic(IEndpointRouteBuilder endpoints, IEngineHost host)
    {
        DedupEngine Engine() => host.ServingEngine();

        // ---- Ingest
        endpoints.MapGrpcUnary(PublicApi.Insert, async (request, call) =>
        {
            var engine = Engine();
            var results = await engine.InsertAsync(ToInputs(request), call.CancellationToken).ConfigureAwait(false);
            return ProtoMapping.ToResponse(results);
        })
        .RequireAuthorization(AccessControl.Producer);
        endpoints.MapGrpcClientStreaming(PublicApi.InsertStream, async (requests, call) =>
        {
            var response = new InsertResponse();
            var offset = 0;
            await foreach (var request in requests.ConfigureAwait(false))
            {
                var results = await Engine().InsertAsync(ToInputs(request), call.CancellationToken).ConfigureAwait(false);
                foreach (var r in results)
                {
                    var wire = ProtoMapping.ToWire(r);
                    wire.Index += offset;
                    response.Results.Add(wire);
                }

                offset += request.Vectors.Count;
            }

            return response;
        })
        .RequireAuthorization(AccessControl.Producer);

        // ---- Query
        endpoints.MapGrpcUnary(PublicApi.GetVector, async (request, _) =>
        {
            var engine = Engine();
            var verdict = await engine.GetVerdictAsync(request.Id).ConfigureAwait(false)
                ?? throw new RpcException(GrpcStatusCode.NotFound, $"id: '{request.Id}' is not stored");
            var response = new GetVectorResponse { Verdict = ProtoMapping.ToWire(verdict) };
            for (var r = 0; r < engine.Rungs.Count; r++)
            {
                if (await engine.GetClusterOfAsync(request.Id, r, 0, 0).ConfigureAwait(false) is { } cluster)
                {
                    response.Clusters.Add(new ClusterRef { Rung = cluster.Rung, ClusterId = (ulong)cluster.ClusterId, CanonicalId = cluster.Canonical, Size = cluster.Size });
                }
            }

            return response;
        })
        .RequireAuthorization(AccessControl.Producer);
        endpoints.MapGrpcUnary(PublicApi.GetCluster, async (request, _) =>
        {
            var engine = Engine();
            var rung = engine.RungIndexOf(request.Rung == 0 ? null : request.Rung);
            var take = request.Take == 0 ? 100 : request.Take;
            CheckPage(request.Skip, take);
            var view = request.OfCase switch
            {
                GetClusterRequest.OfOneofCase.Id => await engine.GetClusterOfAsync(request.Id, rung, request.Skip, take).ConfigureAwait(false),
                GetClusterRequest.OfOneofCase.ClusterId => await engine.GetClusterAsync((long)request.ClusterId, rung, request.Skip, take).ConfigureAwait(false),
                _ => throw new RpcException(GrpcStatusCode.InvalidArgument, "of: name the cluster by id (a member's id) or cluster_id"),
            };
            return view is null ? throw new RpcException(GrpcStatusCode.NotFound, "no such cluster at that rung") : ToWire(view);
        })
        .RequireAuthorization(AccessControl.Producer);
        endpoints.MapGrpcUnary(PublicApi.NearDuplicates, async (request, _) =>
        {
            var engine = Engine();
            if (request.Limit < 0)
            {
                throw new RpcException(GrpcStatusCode.InvalidArgument, "limit: must not be negative");
            }

            var found = await engine.FindNearDuplicatesAsync([.. request.Values], request.MinCosine == 0 ? null : request.MinCosine, request.Limit == 0 ? 100 : request.Limit).ConfigureAwait(false);
            var response = new NearDuplicatesResponse();
            response.Neighbours.AddRange(found.Select(n => new Protocol.V1.Neighbour { Id = n.ExternalId, VectorId = (ulong)n.VectorId, Cosine = n.Cosine, ClusterId = (ulong)n.ClusterId }));
            return response;
        })
        .RequireAuthorization(AccessControl.Producer);
        endpoints.MapGrpcUnary(PublicApi.ListClusters, async (request, _) =>
        {
            var engine = Engine();
            var rung = engine.RungIndexOf(request.Rung == 0 ? null : request.Rung);
            var take = request.Take == 0 ? 20 : request.Take;
            CheckPage(request.Skip, take);
            var clusters = await engine.ListClustersAsync(rung, request.MinSize == 0 ? 2 : request.MinSize, request.Skip, take).ConfigureAwait(false);
            var response = new ListClustersResponse();
            response.Clusters.AddRange(clusters.Select(ToWire));
            return response;
        })
        .RequireAuthorization(AccessControl.Producer);
        endpoints.MapGrpcUnary(PublicApi.GetStats, async (_, _) =>
        {
            var stats = await Engine().GetStatsAsync().ConfigureAwait(false);
            var response = new Stats { Vectors = stats.Vectors, Duplicates = stats.Duplicates, Shards = stats.Shards };
            response.Rungs.AddRange(stats.Rungs.Select(r => new Protocol.V1.RungStats { Rung = r.Rung, Clusters = r.Clusters, ClusteredVectors = r.ClusteredVectors, LargestCluster = r.LargestCluster }));
            return response;
        })
        .RequireAuthorization(AccessControl.Producer);

        endpoints.MapGrpcUnary(PublicApi.Delete, async (request, call) =>
        {
            var results = await Engine().DeleteAsync(request.Ids, call.CancellationToken).ConfigureAwait(false);
            var response = new DeleteResponse();
            response.Results.AddRange(results.Select(ProtoMapping.ToWire));
            return response;
        })
        .RequireAuthorization(AccessControl.Admin);
        endpoints.MapGrpcUnary(InternalApi.GetScheme, (_, _) =>
            Task.FromResult(new Protocol.Internal.SchemeBlob { Scheme = Google.Protobuf.ByteString.CopyFrom(Engine().Scheme.ToBytes()) }))
            .RequireAuthorization(AccessControl.Producer);
        endpoints.MapGrpcUnary(InternalApi.InsertHashed, async (request, call) =>
            ProtoMapping.ToResponse(await Engine().InsertHashedAsync(request, call.Deadline, call.CancellationToken).ConfigureAwait(false)))
            .RequireAuthorization(AccessControl.Producer);
    }

    private static RpcException Overloaded(string message)
    {
        Diagnostics.LshClusterMetrics.OverloadRejections.Add(1, new KeyValuePair<string, object?>("api", "grpc"));
        return new RpcException(GrpcStatusCode.ResourceExhausted, message);
    }

    private static void CheckPage(int skip, int take)
    {
        if (skip < 0)
        {
            throw new RpcException(GrpcStatusCode.InvalidArgument, "skip: must not be negative");
        }

        if (take is < 0 or > 10_000)
        {
            throw new RpcException(GrpcStatusCode.InvalidArgument, "take: must be 0 … 10,000");
        }
    }

    private static List<VectorInput> ToInputs(InsertRequest request) =>
        [.. request.Vectors.Select(v => new VectorInput(v.Id, [.. v.Values]))];

    private static Protocol.V1.Cluster ToWire(ClusterView view)
    {
        var cluster = new Protocol.V1.Cluster { Rung = view.Rung, ClusterId = (ulong)view.ClusterId, CanonicalId = view.Canonical, Size = view.Size };
        cluster.Members.AddRange(view.Members.Select(m => new Protocol.V1.ClusterMember { Id = m.ExternalId, VectorId = (ulong)m.VectorId, CosineToCanonical = m.CosineToCanonical }));
        return cluster;
    }
}
