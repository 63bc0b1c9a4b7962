using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace LshCluster.Silo.Diagnostics;

/// <summary>
/// The one meter, <c>LshCluster</c>, and its instruments. Any listener can read it (dotnet-counters, OpenTelemetry);
/// <see cref="MetricsExport"/> serves it at <c>/metrics</c>. What each instrument means: docs/operations.md.
/// </summary>
public static class LshClusterMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "LshCluster";

    private static readonly Meter Meter = new(MeterName, "1.0");

    // Gauges read live state from whoever registered it (engines and hosts in this process).
    private static readonly ConcurrentDictionary<object, Func<int>> VectorsInFlight = new();
    private static readonly ConcurrentDictionary<object, Func<int>> ShardsOwned = new();

    /// <summary>Vectors stored (acknowledged new or duplicate; a repeated id is not stored again).</summary>
    public static readonly Counter<long> VectorsIngested = Meter.CreateCounter<long>("lshcluster.ingest.vectors", "{vector}", "Vectors stored");

    /// <summary>Verdicts given, by kind (new, duplicate, repeated).</summary>
    public static readonly Counter<long> Verdicts = Meter.CreateCounter<long>("lshcluster.verdicts", "{verdict}", "Verdicts given, by kind");

    /// <summary>Items refused, by error code.</summary>
    public static readonly Counter<long> Refused = Meter.CreateCounter<long>("lshcluster.ingest.refused", "{vector}", "Items refused, by error code");

    /// <summary>Vectors deleted at their home shards.</summary>
    public static readonly Counter<long> Deletions = Meter.CreateCounter<long>("lshcluster.deletions", "{vector}", "Vectors deleted");

    /// <summary>
    /// Candidates met by inserts, by stage: <c>bucket</c>, bucket entries that passed the sketch filter (summed over
    /// tables); <c>checked</c>, distinct candidates whose exact cosine was computed. Per insert, they tell whether the
    /// plan suits the data (docs/planner.md).
    /// </summary>
    public static readonly Counter<long> Candidates = Meter.CreateCounter<long>("lshcluster.ingest.candidates", "{candidate}", "Candidates met by inserts, by stage");

    /// <summary>Unions of two clusters (at any rung).</summary>
    public static readonly Counter<long> Merges = Meter.CreateCounter<long>("lshcluster.merges", "{merge}", "Cluster unions performed, all rungs");

    /// <summary>Requests refused because the server carried as many vectors as it takes (admission).</summary>
    public static readonly Counter<long> OverloadRejections = Meter.CreateCounter<long>("lshcluster.overload.rejections", "{request}", "Requests refused because the server was carrying as much as it takes");

    /// <summary>Requests refused for their credentials, by API and reason (unauthenticated, forbidden).</summary>
    public static readonly Counter<long> AccessRefusals = Meter.CreateCounter<long>("lshcluster.access.refusals", "{request}", "Requests refused for missing, unknown or insufficient credentials");

    /// <summary>Request latency, by API (rest, grpc) and outcome.</summary>
    public static readonly Histogram<double> RequestDuration = Meter.CreateHistogram<double>("lshcluster.request.duration", "s", "Request latency");

    /// <summary>Time to commit one group of batches to the store.</summary>
    public static readonly Histogram<double> StorageWriteDuration = Meter.CreateHistogram<double>("lshcluster.storage.write.duration", "s", "Store commit latency");

    /// <summary>Vectors per store commit (group commit merges concurrent batches).</summary>
    public static readonly Histogram<long> StorageBatchSize = Meter.CreateHistogram<long>("lshcluster.storage.batch.size", "{vector}", "Vectors per store commit");

    /// <summary>Membership changes made by this process (joined, left by a drain, stopped when declared dead).</summary>
    public static readonly Counter<long> MembershipChanges = Meter.CreateCounter<long>("lshcluster.membership.changes", "{change}", "Membership changes, by kind");

    private static readonly ConcurrentDictionary<object, Func<IEnumerable<Measurement<double>>>> SampledRecall = new();

    static LshClusterMetrics()
    {
        Meter.CreateObservableGauge("lshcluster.sampled_recall", () => SampledRecall.Values.SelectMany(f => f()), "{ratio}",
            "Live recall per rung: of the exact near-duplicate pairs of a sample of inserts, the share in one cluster");
        Meter.CreateObservableGauge("lshcluster.vectors.in_flight", () => VectorsInFlight.Values.Sum(f => f()), "{vector}", "Vectors of insert batches under way");
        Meter.CreateObservableGauge("lshcluster.shards.owned", () => ShardsOwned.Values.Sum(f => f()), "{shard}", "Shards active in this process");
    }

    /// <summary>Adds <paramref name="owner"/>'s vectors under way and shard count to the gauges until <see cref="Unregister"/>.</summary>
    public static void Register(object owner, Func<int> vectorsInFlight, Func<int> shardsOwned, Func<IEnumerable<Measurement<double>>> sampledRecall)
    {
        VectorsInFlight[owner] = vectorsInFlight;
        ShardsOwned[owner] = shardsOwned;
        SampledRecall[owner] = sampledRecall;
    }

    /// <summary>Stops reading <paramref name="owner"/>'s gauges.</summary>
    public static void Unregister(object owner)
    {
        VectorsInFlight.TryRemove(owner, out _);
        ShardsOwned.TryRemove(owner, out _);
        SampledRecall.TryRemove(owner, out _);
    }

    /// <summary>Counts the verdicts given at the vectors' home silo (each vector once, wherever it was sent).</summary>
    internal static void RecordVerdicts(IEnumerable<Engine.InsertResult> results)
    {
        // Counted per batch, then one measurement per kind: a tagged measurement per vector costs the listeners a
        // label lookup each.
        long fresh = 0, duplicates = 0, repeated = 0;
        foreach (var r in results)
        {
            if (r.Verdict is { } v)
            {
                _ = v.Repeated ? repeated++ : v.Kind == Engine.VerdictKind.Duplicate ? duplicates++ : fresh++;
            }
        }

        AddIfAny(Verdicts, fresh, "kind", "new");
        AddIfAny(Verdicts, duplicates, "kind", "duplicate");
        AddIfAny(Verdicts, repeated, "kind", "repeated");
        VectorsIngested.Add(fresh + duplicates);
    }

    private static void AddIfAny(Counter<long> counter, long count, string tag, string value)
    {
        if (count > 0)
        {
            counter.Add(count, new KeyValuePair<string, object?>(tag, value));
        }
    }

    /// <summary>Counts the items refused to a caller, by code (what a producer sees, not internal re-routing).</summary>
    internal static void RecordRefusals(IEnumerable<Engine.InsertResult> results)
    {
        foreach (var r in results)
        {
            if (r.Error is { } e)
            {
                Refused.Add(1, new KeyValuePair<string, object?>("code", e.Code));
            }
        }
    }

    /// <summary>Elapsed seconds since <paramref name="startTimestamp"/> (<see cref="Stopwatch.GetTimestamp"/>).</summary>
    internal static double SecondsSince(long startTimestamp) => Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds;
}
