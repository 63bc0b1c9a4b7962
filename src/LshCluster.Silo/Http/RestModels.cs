using System.Text.Json.Serialization;
using LshCluster.Silo.Engine;

namespace LshCluster.Silo.Http;

// The JSON shapes of the REST API (snake_case on the wire). Kept apart from the engine's records so that the API
// can stay stable while the engine changes. Cluster ids are 64-bit and go out as strings: JavaScript numbers hold
// 53 bits, and a browser would round them to another cluster's id.

/// <summary>How 64-bit ids are written (strings) and read (strings or numbers).</summary>
internal static class JsonIds
{
    public const JsonNumberHandling IdAsString = JsonNumberHandling.WriteAsString | JsonNumberHandling.AllowReadingFromString;
}

/// <summary><c>POST /v1/vectors</c>: vectors to insert.</summary>
public sealed record VectorBatch(IReadOnlyList<VectorItem>? Vectors);

/// <summary>One vector: the producer's id and its values.</summary>
public sealed record VectorItem(string? Id, float[]? Values);

/// <summary>The outcome of each item, in request order.</summary>
public sealed record InsertReply(IReadOnlyList<ItemOutcome> Results);

/// <summary>Item <see cref="Index"/>: a verdict, or the error that refused it (nothing stored for it).</summary>
public sealed record ItemOutcome(int Index, VerdictReply? Verdict, ItemError? Error);

/// <summary>New or duplicate; for a duplicate the cluster joined and the best match.</summary>
public sealed record VerdictReply(string Id, string Kind, float? Rung, [property: JsonNumberHandling(JsonIds.IdAsString)] long? ClusterId, string? Canonical, string? BestMatch, float? BestCosine, bool Repeated)
{
    internal static VerdictReply Of(Verdict v) =>
        new(v.ExternalId, v.Kind == VerdictKind.Duplicate ? "duplicate" : "new", v.Rung, v.ClusterId, v.Canonical, v.BestMatch, v.BestCosine, v.Repeated);
}

/// <summary><c>GET /v1/vectors/{id}</c>: the verdict given and the vector's cluster at each rung where it has one.</summary>
public sealed record VectorReply(VerdictReply Verdict, IReadOnlyList<ClusterSummary> Clusters);

/// <summary><c>POST /v1/query</c>: near-duplicates of a vector, nothing inserted.</summary>
public sealed record QueryRequest(float[]? Values, float? MinCosine, int? Limit);

/// <summary>Stored vectors at or above the cosine asked for, closest first.</summary>
public sealed record QueryReply(IReadOnlyList<NeighbourReply> Neighbours);

/// <summary>A stored vector close to the query.</summary>
public sealed record NeighbourReply(string Id, float Cosine, [property: JsonNumberHandling(JsonIds.IdAsString)] long ClusterId);

/// <summary>A cluster without its members.</summary>
public sealed record ClusterSummary(float Rung, [property: JsonNumberHandling(JsonIds.IdAsString)] long ClusterId, string Canonical, int Size, float Coherence, int CoherenceSample, bool Chained)
{
    /// <summary>The summary of <paramref name="c"/>.</summary>
    public static ClusterSummary Of(ClusterView c) => new(c.Rung, c.ClusterId, c.Canonical, c.Size, c.Coherence, c.CoherenceSample, c.IsChained);
}

/// <summary><c>GET /v1/clusters</c>: a page of clusters, largest first.</summary>
public sealed record ClusterPage(float Rung, int MinSize, int Page, int PageSize, IReadOnlyList<ClusterSummary> Clusters);

/// <summary><c>GET /v1/clusters/{id}</c>: a cluster and a page of its members.</summary>
public sealed record ClusterReply(float Rung, [property: JsonNumberHandling(JsonIds.IdAsString)] long ClusterId, string Canonical, int Size, int Page, int PageSize, IReadOnlyList<MemberReply> Members)
{
    /// <summary>The lowest cosine of a member to the canonical one, over <see cref="CoherenceSample"/> members.</summary>
    public float Coherence { get; init; }

    /// <summary>How many members the coherence was measured over (the size when exact).</summary>
    public int CoherenceSample { get; init; }

    /// <summary>Whether a member measured is further from the canonical one than the rung.</summary>
    public bool Chained { get; init; }

    /// <summary>With <c>core=true</c>: the members within the rung of the canonical one (those then listed).</summary>
    public int? CoreSize { get; init; }
}

/// <summary>A member with its exact cosine to the canonical member.</summary>
public sealed record MemberReply(string Id, [property: JsonNumberHandling(JsonIds.IdAsString)] long VectorId, float CosineToCanonical);

/// <summary><c>GET /v1/stats</c>.</summary>
public sealed record StatsReply(int Vectors, int Duplicates, int Shards, int Dimension, IReadOnlyList<RungStats> Rungs);

/// <summary><c>GET /healthz</c> and <c>GET /readyz</c>.</summary>
public sealed record HealthReply(string Status);

/// <summary><c>GET /v1/activity</c>: cluster-wide counts sampled every <see cref="IntervalSeconds"/>, oldest first.</summary>
public sealed record ActivityReply(double IntervalSeconds, IReadOnlyList<ActivitySample> Samples);

/// <summary><c>GET /v1/clusters/histogram</c>: how many clusters have each size, in powers of two.</summary>
public sealed record HistogramReply(float Rung, IReadOnlyList<SizeBin> Bins);

/// <summary><c>GET /v1/vectors/{id}/values</c>: a stored vector's values (the dashboard draws images from them).</summary>
public sealed record ValuesReply(string Id, float[] Values);

/// <summary><c>POST /v1/deletions</c>: ids of vectors to delete.</summary>
public sealed record DeletionBatch(IReadOnlyList<string?>? Ids);

/// <summary>The outcome of each id, in request order.</summary>
public sealed record DeletionReply(IReadOnlyList<DeletionOutcome> Results);

/// <summary>Id <see cref="Index"/>: deleted (it was stored), not (it was not stored), or the error that kept it (nothing changed; send again).</summary>
public sealed record DeletionOutcome(int Index, string Id, bool Deleted, ItemError? Error);

/// <summary><c>POST /v1/drain</c>: no fields yet (<c>{}</c>); a JSON body, so that no other site's page can send it.</summary>
public sealed record DrainRequest;

/// <summary>A drain begun: the silo finishes the requests under way, then leaves (and its process exits); its shards activate on the others.</summary>
/// <param name="Status">draining.</param>
/// <param name="Shards">Shards it owned when the drain began.</param>
public sealed record DrainReply(string Status, int Shards);

/// <summary><c>GET /v1/events</c>: events in commit order, and the cursor to ask after next.</summary>
public sealed record EventsReply(IReadOnlyList<EventReply> Events, [property: JsonNumberHandling(JsonIds.IdAsString)] long Next);

/// <summary>
/// One event of the change feed: <c>verdict</c> (a vector stored: new, or a duplicate of a best match in a cluster at a
/// rung), <c>merge</c> (at a rung, cluster <c>cluster_id</c> joined <c>into_cluster_id</c>) or <c>deletion</c>.
/// </summary>
public sealed record EventReply(
    [property: JsonNumberHandling(JsonIds.IdAsString)] long Cursor,
    DateTimeOffset At,
    string Kind,
    string? Id,
    [property: JsonNumberHandling(JsonIds.IdAsString)] long? VectorId,
    bool? Duplicate,
    [property: JsonNumberHandling(JsonIds.IdAsString)] long? ClusterId,
    [property: JsonNumberHandling(JsonIds.IdAsString)] long? IntoClusterId,
    [property: JsonNumberHandling(JsonIds.IdAsString)] long? BestMatchVectorId,
    float? BestCosine,
    float? Rung)
{
    /// <summary>The reply for <paramref name="entry"/>.</summary>
    public static EventReply Of(FeedEntry entry, IReadOnlyList<float> rungs)
    {
        var e = entry.Event;
        return e.Kind switch
        {
            Storage.FeedEventKind.Verdict => new(entry.Cursor, entry.At, "verdict", e.ExternalId, e.VectorId, e.Duplicate, e.Cluster, null,
                e.Duplicate ? e.Other : null, e.Duplicate ? e.Cosine : null, e.Duplicate ? rungs[e.Rung] : null),
            Storage.FeedEventKind.Merge => new(entry.Cursor, entry.At, "merge", null, null, null, e.VectorId, e.Other, null, null, rungs[e.Rung]),
            _ => new(entry.Cursor, entry.At, "deletion", e.ExternalId, e.VectorId, null, null, null, null, null, null),
        };
    }
}
