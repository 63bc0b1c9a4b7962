using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace LshCluster.Silo.Diagnostics;

/// <summary>
/// The <c>LshCluster</c> meter exported at <c>/metrics</c> by OpenTelemetry's Prometheus exporter: instrument names
/// become <c>lshcluster_…</c> families (units in the name, <c>_total</c> on counters), with histogram buckets sized
/// for what each histogram measures. Orleans' own meter (<c>orleans_…</c>: activations, grain calls, messaging) is
/// exported beside it, from the silo of the same process.
/// </summary>
public static class MetricsExport
{
    // Latencies from half a millisecond (a shard turn) to half a minute (a commit under a PostgreSQL restart).
    private static readonly double[] SecondsBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    // Vectors per commit: one vector to the largest group commit.
    private static readonly double[] CountBuckets = [1, 10, 100, 500, 1000, 5000, 10_000, 50_000];

    // The meter Orleans' runtime records its instruments on.
    private const string OrleansMeterName = "Microsoft.Orleans";

    /// <summary>Adds the meter provider and its Prometheus exporter; map the endpoint with <c>MapPrometheusScrapingEndpoint</c>.</summary>
    public static IServiceCollection AddLshClusterMetrics(this IServiceCollection services)
    {
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("lshcluster"))
            .WithMetrics(metrics => metrics
            .AddMeter(LshClusterMetrics.MeterName, OrleansMeterName)
            .AddView(LshClusterMetrics.RequestDuration.Name, new ExplicitBucketHistogramConfiguration { Boundaries = SecondsBuckets })
            .AddView(LshClusterMetrics.StorageWriteDuration.Name, new ExplicitBucketHistogramConfiguration { Boundaries = SecondsBuckets })
            .AddView(LshClusterMetrics.StorageBatchSize.Name, new ExplicitBucketHistogramConfiguration { Boundaries = CountBuckets })
            // Each scrape reads the instruments afresh (the exporter would otherwise answer from a 300 ms cache).
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        return services;
    }
}
