using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LshCluster.Core.Hashing;
using LshCluster.Silo.Engine;

namespace LshCluster.Silo.Tests;

/// <summary>
/// <c>/metrics</c> read by the reference parser of the Prometheus text format (Python prometheus_client, Debian),
/// before and after real requests. Counters are process-wide and other tests run alongside: deltas are lower bounds.
/// </summary>
public sealed class MetricsTests : IAsyncLifetime
{
    private static readonly LshScheme Scheme = TempStores.Plan(64, [0.99f, 0.95f], shards: 32);
    private ServedStore _served = null!;

    // Every insert is a recall sample here, so that the live recall gauge has a value after a few.
    public async Task InitializeAsync() => _served = await ServedStore.StartAsync(Scheme, options: new DedupEngineOptions { RecallSampleRate = 1, RecallSampleBudget = 1 });

    public async Task DisposeAsync() => await _served.DisposeAsync();

    [Fact]
    public async Task The_exposition_parses_and_counts_what_the_requests_did()
    {
        var before = await ScrapeAsync();
        var (a, b) = EngineTests.Pair(21, 0.995);

        var insert = await _served.Http.PostAsJsonAsync("/v1/vectors", new { vectors = new object[] { new { id = "m-a", values = a }, new { id = "m-b", values = b }, new { id = "m-bad", values = new[] { 1f } } } });
        insert.EnsureSuccessStatusCode();
        await _served.Engine.RecallSamplesCheckedAsync();
        (await _served.Http.DeleteAsync("/v1/vectors/m-b")).EnsureSuccessStatusCode();
        var after = await ScrapeAsync();

        Assert.Equal("counter", (string?)after["lshcluster_ingest_vectors"]!["type"]);
        Assert.True(Value(after, "lshcluster_ingest_vectors_total") - Value(before, "lshcluster_ingest_vectors_total") >= 2);
        Assert.True(Value(after, "lshcluster_verdicts_total", ("kind", "duplicate")) - Value(before, "lshcluster_verdicts_total", ("kind", "duplicate")) >= 1);
        Assert.True(Value(after, "lshcluster_ingest_refused_total", ("code", "wrong_dimension")) - Value(before, "lshcluster_ingest_refused_total", ("code", "wrong_dimension")) >= 1);
        Assert.True(Value(after, "lshcluster_merges_total") - Value(before, "lshcluster_merges_total") >= 1);
        Assert.True(Value(after, "lshcluster_deletions_total") - Value(before, "lshcluster_deletions_total") >= 1);
        Assert.Equal("gauge", (string?)after["lshcluster_vectors_in_flight"]!["type"]);
        Assert.Equal("gauge", (string?)after["lshcluster_sampled_recall"]!["type"]);
        Assert.Equal(1.0, Value(after, "lshcluster_sampled_recall", ("rung", Scheme.Rungs[^1].ToString(CultureInfo.InvariantCulture)))); // m-a and m-b, one cluster
        Assert.True(Value(after, "lshcluster_shards_owned") >= Scheme.ShardCount);
        // Orleans' meter beside ours. Neither a family nor a value is pinned: this test process runs many silos at once
        // and one after another, each with its own instruments under the one meter name, and the exporter (which sees
        // every silo of the process) may follow the instrument of a silo that has stopped since
        // (orleans_catalog_activations was missing from one scrape in CI).
        Assert.Contains(after, f => f.Key.StartsWith("orleans_", StringComparison.Ordinal));

        // Histograms: cumulative buckets, +Inf equal to the count, a storage commit and the insert request recorded.
        Assert.Equal("histogram", (string?)after["lshcluster_request_duration_seconds"]!["type"]);
        var route = ("route", "/v1/vectors");
        Assert.True(Value(after, "lshcluster_request_duration_seconds_count", route) - Value(before, "lshcluster_request_duration_seconds_count", route) >= 1);
        Assert.True(Value(after, "lshcluster_storage_write_duration_seconds_count") > Value(before, "lshcluster_storage_write_duration_seconds_count"));
        var buckets = Samples(after, "lshcluster_storage_write_duration_seconds_bucket").Select(s => (double)s[2]!).ToList();
        Assert.Equal(buckets.Order(), buckets);
        Assert.Equal(Value(after, "lshcluster_storage_write_duration_seconds_count"), Value(after, "lshcluster_storage_write_duration_seconds_bucket", ("le", "+Inf")));
    }

    private async Task<JsonObject> ScrapeAsync()
    {
        var response = await _served.Http.GetAsync("/metrics");
        response.EnsureSuccessStatusCode();
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        var parser = Path.Combine(AppContext.BaseDirectory, "interop", "parse_metrics.py");
        using var python = Process.Start(new ProcessStartInfo("/usr/bin/python3", [parser]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true })!;
        await python.StandardInput.WriteAsync(text);
        python.StandardInput.Close();
        var json = await python.StandardOutput.ReadToEndAsync();
        var errors = await python.StandardError.ReadToEndAsync();
        await python.WaitForExitAsync();
        Assert.True(python.ExitCode == 0, $"the Prometheus parser refused /metrics: {errors}\n{text}");
        return JsonNode.Parse(json)!.AsObject();
    }

    // Every family's samples named sampleName, as [name, {labels}, value].
    private static IEnumerable<JsonArray> Samples(JsonObject families, string sampleName) =>
        families.Select(f => f.Value!["samples"]!.AsArray()).SelectMany(s => s).Select(s => s!.AsArray()).Where(s => (string?)s[0] == sampleName);

    // The sum over the samples named sampleName whose labels include those given (0 when none yet).
    private static double Value(JsonObject families, string sampleName, params (string Name, string Value)[] labels) =>
        Samples(families, sampleName)
            .Where(s => labels.All(l => (string?)s[1]![l.Name] == l.Value))
            .Sum(s => (double?)s[2] ?? 0);
}
