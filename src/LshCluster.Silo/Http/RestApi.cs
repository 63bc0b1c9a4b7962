using LshCluster.Silo.Engine;
using LshCluster.Silo.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace LshCluster.Silo.Http;

/// <summary>
/// The REST JSON API (<c>/v1/…</c>) and the health checks, the same on every silo and on the embedded server.
/// Errors are problem details (RFC 9457, see <see cref="ProblemMapping"/>) naming the field at fault.
/// </summary>
public static class RestApi
{
    /// <summary>Largest page of clusters or members a request may ask for.</summary>
    public const int MaxPageSize = 1000;

    /// <summary>Maps the routes onto <paramref name="endpoints"/>.</summary>
    public static void Map(IEndpointRouteBuilder endpoints, IEngineHost host, ActivitySampler activity)
    {
        // Every /v1 route takes a producer key (or admin); those that change the cluster take an admin key.
        var v1 = endpoints.MapGroup("/v1").WithTags("v1").RequireAuthorization(AccessControl.Producer);

        v1.MapPost("/vectors", async Task<Ok<InsertReply>> (VectorBatch batch, CancellationToken cancel) =>
        {
            if (batch.Vectors is not { Count: > 0 } vectors)
            {
                throw new ArgumentException("vectors: send at least one vector ({\"vectors\": [{\"id\": …, \"values\": […]}]})", "vectors");
            }

            var engine = host.ServingEngine();
            var results = await engine.InsertAsync([.. vectors.Select(v => new VectorInput(v?.Id ?? string.Empty, v?.Values ?? []))], cancel).ConfigureAwait(false);
            return TypedResults.Ok(new InsertReply([.. results.OrderBy(r => r.Index).Select(r =>
                new ItemOutcome(r.Index, r.Verdict is { } v ? VerdictReply.Of(v) : null, r.Error is { } e ? InRestTerms(e, r.Index) : null))]));
        })
        .WithName("InsertVectors").WithSummary("Insert a batch of vectors; a verdict or an error per item");

        v1.MapGet("/vectors/{id}", async Task<Results<Ok<VectorReply>, ProblemHttpResult>> (string id) =>
        {
            var engine = host.ServingEngine();
            if (await engine.GetVerdictAsync(id).ConfigureAwait(false) is not { } verdict)
            {
                return ProblemMapping.NotFound($"id: no vector '{id}' is stored");
            }

            var clusters = new List<ClusterSummary>();
            for (var r = 0; r < engine.Rungs.Count; r++)
            {
                if (await engine.GetClusterOfAsync(id, r, 0, 0).ConfigureAwait(false) is { } c)
                {
                    clusters.Add(ClusterSummary.Of(c));
                }
            }

            return TypedResults.Ok(new VectorReply(VerdictReply.Of(verdict), clusters));
        })
        .WithName("GetVector").WithSummary("The verdict given to a vector and its cluster at each rung");

        v1.MapPost("/query", async Task<Ok<QueryReply>> (QueryRequest query) =>
        {
            if (query.Values is not { Length: > 0 } values)
            {
                throw new ArgumentException("values: send the vector to search for", "values");
            }

            var limit = query.Limit ?? 10;
            if (limit is < 1 or > MaxPageSize)
            {
                throw new ArgumentException($"limit: must be 1 … {MaxPageSize}; got {limit}", "limit");
            }

            if (query.MinCosine is { } min && (float.IsNaN(min) || min is <= -1 or > 1))
            {
                throw new ArgumentException($"min_cosine: must be in (-1, 1]; got {min}", "min_cosine");
            }

            var found = await host.ServingEngine().FindNearDuplicatesAsync(values, query.MinCosine, limit).ConfigureAwait(false);
            return TypedResults.Ok(new QueryReply([.. found.Select(n => new NeighbourReply(n.ExternalId, n.Cosine, n.ClusterId))]));
        })
        .WithName("Query").WithSummary("Near-duplicates of a vector, without inserting it");

        v1.MapGet("/clusters", async Task<Ok<ClusterPage>> (float? rung, int? min_size, int? page, int? page_size) =>
        {
            var engine = host.ServingEngine();
            var r = engine.RungIndexOf(rung);
            var minSize = min_size ?? 2;
            if (minSize < 1)
            {
                throw new ArgumentException($"min_size: must be at least 1; got {minSize}", "min_size");
            }

            var (number, size) = Page(page, page_size, 20);
            var clusters = await engine.ListClustersAsync(r, minSize, (number - 1) * size, size).ConfigureAwait(false);
            return TypedResults.Ok(new ClusterPage(engine.Rungs[r], minSize, number, size, [.. clusters.Select(ClusterSummary.Of)]));
        })
        .WithName("ListClusters").WithSummary("Clusters at a rung, largest first, paged");

        v1.MapGet("/clusters/{id:long}", async Task<Results<Ok<ClusterReply>, ProblemHttpResult>> (long id, float? rung, int? page, int? page_size, long? after, bool? core) =>
        {
            var engine = host.ServingEngine();
            var r = engine.RungIndexOf(rung);
            var (number, size) = Page(page, page_size, 100);
            if (await engine.GetClusterAsync(id, r, (number - 1) * size, size, after ?? 0, core ?? false).ConfigureAwait(false) is not { } c)
            {
                return ProblemMapping.NotFound($"id: no cluster {id} at rung {engine.Rungs[r]} (a cluster's id is its canonical member's vector id)");
            }

            return TypedResults.Ok(new ClusterReply(c.Rung, c.ClusterId, c.Canonical, c.Size, number, size, [.. c.Members.Select(m => new MemberReply(m.ExternalId, m.VectorId, m.CosineToCanonical))])
            {
                Coherence = c.Coherence,
                CoherenceSample = c.CoherenceSample,
                Chained = c.IsChained,
                CoreSize = c.CoreSize,
            });
        })
        .WithName("GetCluster").WithSummary("A cluster and a page of its members with their cosine to the canonical member");

        v1.MapGet("/vectors/{id}/values", async Task<Results<Ok<ValuesReply>, ProblemHttpResult>> (string id) =>
            await host.ServingEngine().GetValuesAsync(id).ConfigureAwait(false) is { } values
                ? TypedResults.Ok(new ValuesReply(id, values))
                : ProblemMapping.NotFound($"id: no vector '{id}' is stored"))
        .WithName("GetVectorValues").WithSummary("A stored vector's values");

        v1.MapGet("/clusters/histogram", async Task<Ok<HistogramReply>> (float? rung) =>
        {
            var engine = host.ServingEngine();
            var r = engine.RungIndexOf(rung);
            return TypedResults.Ok(new HistogramReply(engine.Rungs[r], await engine.GetClusterSizeHistogramAsync(r).ConfigureAwait(false)));
        })
        .WithName("ClusterSizeHistogram").WithSummary("How many clusters have each size (2, 3-4, 5-8, ...) at a rung");

        v1.MapGet("/activity", () => TypedResults.Ok(new ActivityReply(activity.Interval.TotalSeconds, activity.Samples)))
            .WithName("Activity").WithSummary("Cluster-wide vectors and duplicates sampled over the last minutes (rates for the dashboard)");

        v1.MapGet("/events", async Task<Results<Ok<EventsReply>, ProblemHttpResult>> (long? after, int? limit, double? wait, CancellationToken cancel) =>
        {
            var engine = host.ServingEngine();
            var (from, most, patience) = (after ?? 0, limit ?? 1000, wait ?? 30);
            Require(from >= 0, "after", $"after: a cursor is 0 or more; got {from}");
            Require(most is >= 1 and <= 10_000, "limit", $"limit: must be 1 … 10,000; got {most}");
            Require(patience is >= 0 and <= 300, "wait", $"wait: must be 0 … 300 seconds; got {patience}");

            // A long poll: waits up to `wait` seconds for a first event, then takes what follows at once.
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            deadline.CancelAfter(TimeSpan.FromSeconds(patience));
            var events = new List<EventReply>();
            try
            {
                await foreach (var entry in engine.WatchAsync(from, deadline.Token).ConfigureAwait(false))
                {
                    events.Add(EventReply.Of(entry, engine.Rungs));
                    if (events.Count == most)
                    {
                        break;
                    }

                    deadline.CancelAfter(DedupEngine.FeedPollInterval / 2);
                }
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                // The wait is over: answer with what came.
            }
            catch (FeedCursorExpiredException e)
            {
                return ProblemMapping.Gone(e.Message);
            }

            return TypedResults.Ok(new EventsReply(events, events.Count > 0 ? events[^1].Cursor : from));
        })
        .WithName("Events").WithSummary("The change feed after a cursor (long poll): verdicts, merges and deletions in commit order");

        v1.MapGet("/stats", async Task<Ok<StatsReply>> () =>
        {
            var engine = host.ServingEngine();
            var stats = await engine.GetStatsAsync().ConfigureAwait(false);
            return TypedResults.Ok(new StatsReply(stats.Vectors, stats.Duplicates, stats.Shards, engine.Scheme.Dimension, stats.Rungs));
        })
        .WithName("GetStats").WithSummary("Vectors, duplicates, and clusters per rung");

        v1.MapGet("/silos", async Task<Ok<IReadOnlyList<SiloStatus>>> (CancellationToken cancel) =>
            TypedResults.Ok(await host.ListSilosAsync(cancel).ConfigureAwait(false)))
        .WithName("ListSilos").WithSummary("The processes serving this store and the shards each owns");

        v1.MapGet("/shards", async Task<Ok<IReadOnlyList<ShardStatus>>> (CancellationToken cancel) =>
            TypedResults.Ok(await host.ListShardsAsync(cancel).ConfigureAwait(false)))
        .WithName("ListShards").WithSummary("Every shard, its owner and its epoch");

        v1.MapDelete("/vectors/{id}", async Task<IResult> (string id, CancellationToken cancel) =>
        {
            var result = (await host.ServingEngine().DeleteAsync([id], _ => "id", cancel).ConfigureAwait(false))[0];
            return result switch
            {
                { Deleted: true } => TypedResults.NoContent(),
                { Error: { } e } => ProblemMapping.Unavailable(e.Message),
                _ => ProblemMapping.NotFound($"id: no vector '{id}' is stored; nothing was deleted"),
            };
        })
        .Produces(StatusCodes.Status204NoContent)
        .ProducesProblem(StatusCodes.Status404NotFound)
        .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
        .RequireAuthorization(AccessControl.Admin)
        .WithName("DeleteVector").WithSummary("Delete a vector (admin): no longer matched, listed or counted; its values and id leave the store; clusters keep the merges it made");

        v1.MapPost("/deletions", async Task<Ok<DeletionReply>> (DeletionBatch batch, CancellationToken cancel) =>
        {
            if (batch.Ids is not { Count: > 0 } ids)
            {
                throw new ArgumentException("ids: name at least one vector to delete ({\"ids\": [\"a\", \"b\"]})", "ids");
            }

            var results = await host.ServingEngine().DeleteAsync([.. ids.Select(id => id ?? string.Empty)], cancel).ConfigureAwait(false);
            return TypedResults.Ok(new DeletionReply([.. results.Select(r => new DeletionOutcome(r.Index, r.ExternalId, r.Deleted, r.Error))]));
        })
        .RequireAuthorization(AccessControl.Admin)
        .WithName("DeleteVectors").WithSummary("Delete many vectors (admin); per id: deleted, not stored, or an error to retry");

        // A JSON body ({} will do) keeps browsers from sending it across sites: a form or a no-cors fetch cannot, and
        // a cross-site JSON request needs a CORS preflight this server never grants (it matters on a cluster without keys).
        v1.MapPost("/drain", async Task<Results<Accepted<DrainReply>, ProblemHttpResult>> (DrainRequest request, CancellationToken cancel) =>
            await host.BeginDrainAsync(cancel).ConfigureAwait(false) is { } shards
                ? TypedResults.Accepted("/v1/silos", new DrainReply("draining", shards))
                : TypedResults.Problem(
                    "no other active silo could take this one's shards, so it keeps serving (stop it with SIGTERM to take the cluster down)",
                    statusCode: StatusCodes.Status409Conflict,
                    title: "Nothing to drain to"))
        .RequireAuthorization(AccessControl.Admin)
        .WithName("Drain").WithSummary("Hand this silo's shards to the others, then leave the cluster (admin; body {}); follow it on /v1/silos");

        // Probes carry no credentials: they say whether the process serves, nothing about the data.
        endpoints.MapGet("/healthz", () => TypedResults.Ok(new HealthReply("alive")))
            .WithName("Health").WithSummary("The process is up (liveness)");
        endpoints.MapGet("/readyz", Results<Ok<HealthReply>, ProblemHttpResult> () =>
        {
            try
            {
                host.ServingEngine();
                return TypedResults.Ok(new HealthReply("serving"));
            }
            catch (NotServingException e)
            {
                return TypedResults.Problem(e.Message, statusCode: StatusCodes.Status503ServiceUnavailable, title: "Not serving");
            }
        })
        .WithName("Ready").WithSummary("The engine answers requests (readiness); 503 with the reason otherwise");
    }

    // The engine names fields as the gRPC messages do (items[i].vector); the JSON body says vectors[i].values.
    private static ItemError InRestTerms(ItemError error, int index)
    {
        string Rename(string text) => text
            .Replace($"items[{index}].vector", $"vectors[{index}].values", StringComparison.Ordinal)
            .Replace($"items[{index}]", $"vectors[{index}]", StringComparison.Ordinal);
        return error with { Field = Rename(error.Field), Message = Rename(error.Message) };
    }

    private static (int Number, int Size) Page(int? page, int? pageSize, int defaultSize)
    {
        var number = page ?? 1;
        if (number < 1)
        {
            throw new ArgumentException($"page: pages are numbered from 1; got {number}", "page");
        }

        var size = pageSize ?? defaultSize;
        if (size is < 1 or > MaxPageSize)
        {
            throw new ArgumentException($"page_size: must be 1 … {MaxPageSize}; got {size}", "page_size");
        }

        return (number, size);
    }

    // A query parameter out of range: 400 naming it (ProblemMapping maps the exception).
    private static void Require(bool condition, string field, string message)
    {
        if (!condition)
        {
            throw new ArgumentException(message, field);
        }
    }
}
