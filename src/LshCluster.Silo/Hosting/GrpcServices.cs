using Grpc.Core;
using Grpc.Core.Interceptors;
using LshCluster.Protocol.Internal;
using LshCluster.Protocol.V1;
using LshCluster.Silo.Cluster;
using LshCluster.Silo.Engine;
using LshCluster.Silo.Http;
using LshCluster.Silo.Security;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using FeedEventKind = LshCluster.Storage.FeedEventKind;

namespace LshCluster.Silo.Hosting;

/// <summary>
/// The gRPC API of lshcluster.proto (and the .NET client's calls of lshcluster_internal.proto), served by
/// Grpc.AspNetCore from a silo's engine. Failures reach the caller as statuses it can act on
/// (<see cref="StatusMapping"/>); credentials are checked before a call starts (<see cref="AccessControl"/>).
/// </summary>
internal static class GrpcServices
{
    /// <summary>Largest request message: a full batch of 10,000 vectors of d = 1,536 fits.</summary>
    public const int MaxReceiveMessageSize = 64 * 1024 * 1024;

    /// <summary>Registers gRPC with the status mapping.</summary>
    public static void AddLshClusterGrpc(this IServiceCollection services) =>
        services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = MaxReceiveMessageSize;

            // No catch-all {service}/{method} routes for unknown services: they would also match REST paths of two
            // segments (a form POSTed to /v1/drain answered 404, not 415). An unknown service gets 404, which gRPC
            // clients read as UNIMPLEMENTED all the same.
            o.IgnoreUnknownServices = true;
            o.Interceptors.Add<StatusMapping>();
        });

    /// <summary>Maps every service.</summary>
    public static void MapLshClusterGrpc(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<IngestService>();
        endpoints.MapGrpcService<QueryService>();
        endpoints.MapGrpcService<AdminService>();
        endpoints.MapGrpcService<FeedService>();
        endpoints.MapGrpcService<ClientSupportService>();
    }

    /// <summary>Domain errors to the status a caller can act on; null for a failure nobody expected.</summary>
    public static RpcException? MapException(Exception e) => e switch
    {
        OverloadedException => Overloaded(e.Message),
        ArgumentException a => Status(StatusCode.InvalidArgument, FailureMessages.Of(a)),
        _ when FailureMessages.Unavailable(e, "call") is { } why => Status(StatusCode.Unavailable, why),
        _ => null,
    };

    /// <summary>A failed call's status.</summary>
    public static RpcException Status(StatusCode code, string detail) => new(new Status(code, detail), detail);

    /// <summary>The call's deadline as the engine takes it.</summary>
    public static DateTimeOffset DeadlineOf(ServerCallContext context) =>
        context.Deadline == DateTime.MaxValue ? DateTimeOffset.MaxValue : new DateTimeOffset(DateTime.SpecifyKind(context.Deadline, DateTimeKind.Utc));

    private static RpcException Overloaded(string message)
    {
        Diagnostics.LshClusterMetrics.OverloadRejections.Add(1, new KeyValuePair<string, object?>("api", "grpc"));
        return Status(StatusCode.ResourceExhausted, message);
    }
}

/// <summary>
/// Turns what a handler throws into its status: domain errors by <see cref="GrpcServices.MapException"/>, anything
/// else INTERNAL with its message, logged (Grpc.AspNetCore would answer UNKNOWN and hide the reason).
/// </summary>
internal sealed class StatusMapping(ILogger<StatusMapping> log) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context).ConfigureAwait(false);
        }
        catch (Exception e) when (ToStatus(e, context) is { } status)
        {
            throw status;
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(requestStream, context).ConfigureAwait(false);
        }
        catch (Exception e) when (ToStatus(e, context) is { } status)
        {
            throw status;
        }
    }

    private RpcException? ToStatus(Exception e, ServerCallContext context)
    {
        if (e is RpcException || (e is OperationCanceledException && context.CancellationToken.IsCancellationRequested))
        {
            return null; // a status already, or the deadline passed / the caller left: Grpc.AspNetCore answers those
        }

        if (GrpcServices.MapException(e) is { } mapped)
        {
            return mapped;
        }

        log.LogError(e, "{Method} failed", context.Method);
        return GrpcServices.Status(StatusCode.Internal, $"{context.Method} failed on the server: {e.Message}");
    }
}

/// <summary>Ingest: batches of vectors in, one verdict or error per vector out.</summary>
[Authorize(Policy = AccessControl.Producer)]
internal sealed class IngestService(IEngineHost host) : Ingest.IngestBase
{
    public override async Task<InsertResponse> Insert(InsertRequest request, ServerCallContext context) =>
        ProtoMapping.ToResponse(await host.ServingEngine().InsertAsync(ToInputs(request), context.CancellationToken).ConfigureAwait(false));

    public override async Task<InsertResponse> InsertStream(IAsyncStreamReader<InsertRequest> requestStream, ServerCallContext context)
    {
        var response = new InsertResponse();
        var offset = 0;
        await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
        {
            foreach (var r in await host.ServingEngine().InsertAsync(ToInputs(request), context.CancellationToken).ConfigureAwait(false))
            {
                var wire = ProtoMapping.ToWire(r);
                wire.Index += offset;
                response.Results.Add(wire);
            }

            offset += request.Vectors.Count;
        }

        return response;
    }

    private static List<VectorInput> ToInputs(InsertRequest request) =>
        [.. request.Vectors.Select(v => new VectorInput(v.Id, [.. v.Values]))];
}

/// <summary>Query: verdicts, clusters, near-duplicates of a vector, counts.</summary>
[Authorize(Policy = AccessControl.Producer)]
internal sealed class QueryService(IEngineHost host) : Query.QueryBase
{
    public override async Task<GetVectorResponse> GetVector(GetVectorRequest request, ServerCallContext context)
    {
        var engine = host.ServingEngine();
        var verdict = await engine.GetVerdictAsync(request.Id).ConfigureAwait(false)
            ?? throw GrpcServices.Status(StatusCode.NotFound, $"id: '{request.Id}' is not stored");
        var response = new GetVectorResponse { Verdict = ProtoMapping.ToWire(verdict) };
        for (var r = 0; r < engine.Rungs.Count; r++)
        {
            if (await engine.GetClusterOfAsync(request.Id, r, 0, 0).ConfigureAwait(false) is { } cluster)
            {
                response.Clusters.Add(new ClusterRef { Rung = cluster.Rung, ClusterId = (ulong)cluster.ClusterId, CanonicalId = cluster.Canonical, Size = cluster.Size });
            }
        }

        return response;
    }

    public override async Task<Protocol.V1.Cluster> GetCluster(GetClusterRequest request, ServerCallContext context)
    {
        var engine = host.ServingEngine();
        var rung = engine.RungIndexOf(request.Rung == 0 ? null : request.Rung);
        var take = request.Take == 0 ? 100 : request.Take;
        CheckPage(request.Skip, take);
        var view = request.OfCase switch
        {
            GetClusterRequest.OfOneofCase.Id => await engine.GetClusterOfAsync(request.Id, rung, request.Skip, take, (long)request.After, request.Core).ConfigureAwait(false),
            GetClusterRequest.OfOneofCase.ClusterId => await engine.GetClusterAsync((long)request.ClusterId, rung, request.Skip, take, (long)request.After, request.Core).ConfigureAwait(false),
            _ => throw GrpcServices.Status(StatusCode.InvalidArgument, "of: name the cluster by id (a member's id) or cluster_id"),
        };
        return view is null ? throw GrpcServices.Status(StatusCode.NotFound, "no such cluster at that rung") : ToWire(view);
    }

    public override async Task<NearDuplicatesResponse> NearDuplicates(NearDuplicatesRequest request, ServerCallContext context)
    {
        if (request.Limit < 0)
        {
            throw GrpcServices.Status(StatusCode.InvalidArgument, "limit: must not be negative");
        }

        var found = await host.ServingEngine().FindNearDuplicatesAsync([.. request.Values], request.MinCosine == 0 ? null : request.MinCosine, request.Limit == 0 ? 100 : request.Limit).ConfigureAwait(false);
        var response = new NearDuplicatesResponse();
        response.Neighbours.AddRange(found.Select(n => new Protocol.V1.Neighbour { Id = n.ExternalId, VectorId = (ulong)n.VectorId, Cosine = n.Cosine, ClusterId = (ulong)n.ClusterId }));
        return response;
    }

    public override async Task<ListClustersResponse> ListClusters(ListClustersRequest request, ServerCallContext context)
    {
        var engine = host.ServingEngine();
        var rung = engine.RungIndexOf(request.Rung == 0 ? null : request.Rung);
        var take = request.Take == 0 ? 20 : request.Take;
        CheckPage(request.Skip, take);
        var clusters = await engine.ListClustersAsync(rung, request.MinSize == 0 ? 2 : request.MinSize, request.Skip, take).ConfigureAwait(false);
        var response = new ListClustersResponse();
        response.Clusters.AddRange(clusters.Select(ToWire));
        return response;
    }

    public override async Task<Stats> GetStats(GetStatsRequest request, ServerCallContext context)
    {
        var stats = await host.ServingEngine().GetStatsAsync().ConfigureAwait(false);
        var response = new Stats { Vectors = stats.Vectors, Duplicates = stats.Duplicates, Shards = stats.Shards };
        response.Rungs.AddRange(stats.Rungs.Select(r => new Protocol.V1.RungStats
        {
            Rung = r.Rung,
            Clusters = r.Clusters,
            ClusteredVectors = r.ClusteredVectors,
            LargestCluster = r.LargestCluster,
            SampledRecall = r.SampledRecall?.Estimate ?? 0,
            SampledRecallLow = r.SampledRecall?.Low ?? 0,
            SampledRecallHigh = r.SampledRecall?.High ?? 0,
            SampledVectors = r.SampledRecall?.Vectors ?? 0,
            SampledPairs = r.SampledRecall?.Pairs ?? 0,
        }));
        return response;
    }

    private static void CheckPage(int skip, int take)
    {
        if (skip < 0)
        {
            throw GrpcServices.Status(StatusCode.InvalidArgument, "skip: must not be negative");
        }

        if (take is < 0 or > 10_000)
        {
            throw GrpcServices.Status(StatusCode.InvalidArgument, "take: must be 0 … 10,000");
        }
    }

    private static Protocol.V1.Cluster ToWire(ClusterView view)
    {
        var cluster = new Protocol.V1.Cluster
        {
            Rung = view.Rung,
            ClusterId = (ulong)view.ClusterId,
            CanonicalId = view.Canonical,
            Size = view.Size,
            Coherence = view.Coherence,
            CoherenceSample = view.CoherenceSample,
            CoreSize = view.CoreSize ?? 0,
        };
        cluster.Members.AddRange(view.Members.Select(m => new Protocol.V1.ClusterMember { Id = m.ExternalId, VectorId = (ulong)m.VectorId, CosineToCanonical = m.CosineToCanonical }));
        return cluster;
    }
}

/// <summary>The change feed (ADR 0011), read from the store: any silo serves any consumer.</summary>
[Authorize(Policy = AccessControl.Producer)]
internal sealed class FeedService(IEngineHost host) : Feed.FeedBase
{
    public override async Task Watch(WatchRequest request, IServerStreamWriter<WatchEvent> responseStream, ServerCallContext context)
    {
        var engine = host.ServingEngine();
        IAsyncEnumerator<FeedEntry> events;
        try
        {
            events = engine.WatchAsync((long)request.After, context.CancellationToken).GetAsyncEnumerator(context.CancellationToken);
        }
        catch (ArgumentException e)
        {
            throw GrpcServices.Status(StatusCode.InvalidArgument, e.Message);
        }

        await using (events.ConfigureAwait(false))
        {
            while (true)
            {
                try
                {
                    if (!await events.MoveNextAsync().ConfigureAwait(false))
                    {
                        return;
                    }
                }
                catch (FeedCursorExpiredException e)
                {
                    throw GrpcServices.Status(StatusCode.OutOfRange, e.Message);
                }
                catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
                {
                    return; // the consumer went away
                }

                await responseStream.WriteAsync(ToWire(events.Current, engine.Rungs), context.CancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>A feed entry as the wire carries it.</summary>
    internal static WatchEvent ToWire(FeedEntry entry, IReadOnlyList<float> rungs)
    {
        var e = entry.Event;
        var wire = new WatchEvent { Cursor = (ulong)entry.Cursor, AtUnixMs = entry.At.ToUnixTimeMilliseconds() };
        switch (e.Kind)
        {
            case FeedEventKind.Verdict:
                wire.Verdict = new VerdictEvent
                {
                    Id = e.ExternalId,
                    VectorId = (ulong)e.VectorId,
                    Kind = e.Duplicate ? Protocol.V1.VerdictKind.Duplicate : Protocol.V1.VerdictKind.New,
                    ClusterId = (ulong)e.Cluster,
                    BestMatchVectorId = (ulong)e.Other,
                    BestCosine = e.Cosine,
                    Rung = e.Duplicate ? rungs[e.Rung] : 0,
                };
                break;
            case FeedEventKind.Merge:
                wire.Merge = new MergeEvent { Rung = rungs[e.Rung], ClusterId = (ulong)e.VectorId, IntoClusterId = (ulong)e.Other };
                break;
            default:
                wire.Deletion = new DeletionEvent { Id = e.ExternalId, VectorId = (ulong)e.VectorId };
                break;
        }

        return wire;
    }
}

/// <summary>Admin: the silos, where each shard is served, draining a silo, deleting vectors.</summary>
[Authorize(Policy = AccessControl.Producer)]
internal sealed class AdminService(IEngineHost host) : Admin.AdminBase
{
    public override async Task<ListSilosResponse> ListSilos(ListSilosRequest request, ServerCallContext context)
    {
        var response = new ListSilosResponse();
        foreach (var s in await host.ListSilosAsync(context.CancellationToken).ConfigureAwait(false))
        {
            response.Silos.Add(new SiloInfo { Address = s.Address, Generation = s.Generation, Status = s.Status, Shards = s.Shards });
        }

        return response;
    }

    public override async Task<ShardMap> GetShardMap(GetShardMapRequest request, ServerCallContext context)
    {
        if (host is SiloHost silo)
        {
            return await silo.GetShardMapAsync().ConfigureAwait(false);
        }

        // The embedded server owns every shard, always.
        var map = new ShardMap();
        map.Owners.AddRange((await host.ListShardsAsync(context.CancellationToken).ConfigureAwait(false)).Select(s => s.Owner ?? string.Empty));
        return map;
    }

    [Authorize(Policy = AccessControl.Admin)]
    public override async Task<DrainResponse> Drain(Protocol.V1.DrainRequest request, ServerCallContext context)
    {
        if (host is not SiloHost silo)
        {
            throw GrpcServices.Status(StatusCode.FailedPrecondition, "address: the embedded server is the only process serving its store; no other could take its shards (stop it instead)");
        }

        if (request.Address.Length > 0 && request.Address.TrimEnd('/') != silo.Address)
        {
            throw GrpcServices.Status(StatusCode.FailedPrecondition, $"address: this is {silo.Address}; send Drain to the silo to drain");
        }

        return new DrainResponse { ShardsReleased = await silo.DrainAndCountAsync().ConfigureAwait(false) };
    }

    [Authorize(Policy = AccessControl.Admin)]
    public override async Task<DeleteResponse> Delete(DeleteRequest request, ServerCallContext context)
    {
        var results = await host.ServingEngine().DeleteAsync(request.Ids, context.CancellationToken).ConfigureAwait(false);
        var response = new DeleteResponse();
        response.Results.AddRange(results.Select(ProtoMapping.ToWire));
        return response;
    }
}

/// <summary>The .NET client's calls: the scheme it hashes with, and inserts it hashed itself.</summary>
[Authorize(Policy = AccessControl.Producer)]
internal sealed class ClientSupportService(IEngineHost host) : Protocol.Internal.Silo.SiloBase
{
    public override Task<SchemeBlob> GetScheme(GetSchemeRequest request, ServerCallContext context) =>
        Task.FromResult(new SchemeBlob { Scheme = Google.Protobuf.ByteString.CopyFrom(host.ServingEngine().Scheme.ToBytes()) });

    public override async Task<InsertResponse> InsertHashed(HashedInsertRequest request, ServerCallContext context) =>
        ProtoMapping.ToResponse(await host.ServingEngine().InsertHashedAsync(request, GrpcServices.DeadlineOf(context), context.CancellationToken).ConfigureAwait(false));
}
