using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LshCluster.Core.Hashing;

namespace LshCluster.Silo.Tests;

/// <summary>The REST API over a real socket: the embedded server (lshc serve) on a real SQLite store.</summary>
public sealed class RestApiTests : IAsyncLifetime
{
    private static readonly float[] Rungs = [0.99f, 0.95f];
    private static readonly LshScheme Scheme = TempStores.Plan(64, Rungs, shards: 32);
    private ServedStore _served = null!;

    public async Task InitializeAsync() => _served = await ServedStore.StartAsync(Scheme);

    public async Task DisposeAsync() => await _served.DisposeAsync();

    [Fact]
    public async Task The_events_route_long_polls_the_feed_after_a_cursor_and_names_a_bad_parameter()
    {
        var (a, b) = Pair(5, 0.995);
        await PostAsync("/v1/vectors", new { vectors = new object[] { new { id = "fa", values = a } } });
        await PostAsync("/v1/vectors", new { vectors = new object[] { new { id = "fb", values = b } } });

        var all = await Json(await _served.Http.GetAsync("/v1/events?after=0&wait=5"));
        var events = all["events"]!.AsArray();
        Assert.Equal(["verdict", "merge", "merge", "verdict"], events.Select(e => (string)e!["kind"]!));
        Assert.Equal(("fa", false), ((string?)events[0]!["id"], (bool)events[0]!["duplicate"]!));
        Assert.Equal(("fb", true, (string?)events[0]!["vector_id"]), ((string?)events[3]!["id"], (bool)events[3]!["duplicate"]!, (string?)events[3]!["best_match_vector_id"]));
        Assert.Equal((string?)events[3]!["cursor"], (string?)all["next"]); // cursors are strings: 64-bit

        // At the end of the feed the poll waits, then answers with no events and the same cursor.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var none = await Json(await _served.Http.GetAsync($"/v1/events?after={(string)all["next"]!}&wait=0.4"));
        Assert.Empty(none["events"]!.AsArray());
        Assert.Equal((string?)all["next"], (string?)none["next"]);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.35), $"answered after {clock.Elapsed.TotalSeconds:F2} s");

        var bad = await _served.Http.GetAsync("/v1/events?limit=0");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("limit", (await Json(bad))["errors"]!.AsObject().Select(e => e.Key));
    }

    [Fact]
    public async Task Inserted_vectors_get_verdicts_and_the_duplicate_is_found_in_its_cluster()
    {
        var (a, b) = Pair(3, 0.995);
        var far = EngineTests.Random(99);

        // a in a request of its own: within one batch, which of two near-duplicates is registered first (and so is the
        // canonical member) depends on the milliseconds their home shards' ids were issued in.
        var first = await PostAsync("/v1/vectors", new { vectors = new object[] { new { id = "a", values = a } } });
        var insert = await PostAsync("/v1/vectors", new { vectors = new object[] { new { id = "b", values = b }, new { id = "far", values = far } } });

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, insert.StatusCode);
        Assert.Equal("new", (string?)(await Json(first))["results"]![0]!["verdict"]!["kind"]);
        var results = (await Json(insert))["results"]!.AsArray();
        Assert.Equal("duplicate", (string?)results[0]!["verdict"]!["kind"]);
        Assert.Equal("a", (string?)results[0]!["verdict"]!["canonical"]);
        Assert.Equal("new", (string?)results[1]!["verdict"]!["kind"]);
        var clusterId = (string)results[0]!["verdict"]!["cluster_id"]!; // 64-bit ids are strings: JavaScript rounds past 2^53
        Assert.True(long.Parse(clusterId, System.Globalization.CultureInfo.InvariantCulture) > 1L << 53);

        var vector = await Json(await _served.Http.GetAsync("/v1/vectors/b"));
        Assert.Equal("duplicate", (string?)vector["verdict"]!["kind"]);
        Assert.Equal([0.99f, 0.95f], vector["clusters"]!.AsArray().Select(c => (float)c!["rung"]!));

        var cluster = await Json(await _served.Http.GetAsync($"/v1/clusters/{clusterId}?rung=0.99"));
        Assert.Equal(2, (int)cluster["size"]!);
        Assert.Equal(["a", "b"], cluster["members"]!.AsArray().Select(m => (string?)m!["id"]));

        var page = await Json(await _served.Http.GetAsync("/v1/clusters?rung=0.95&min_size=2"));
        Assert.Equal(clusterId, (string?)page["clusters"]![0]!["cluster_id"]);
        Assert.Single(page["clusters"]!.AsArray());

        var stats = await Json(await _served.Http.GetAsync("/v1/stats"));
        Assert.Equal(3, (int)stats["vectors"]!);
        Assert.Equal(1, (int)stats["duplicates"]!);

        var query = await Json(await PostAsync("/v1/query", new { values = a, min_cosine = 0.99 }));
        Assert.Equal(["a", "b"], query["neighbours"]!.AsArray().Select(n => (string?)n!["id"]));
    }

    [Fact]
    public async Task A_bad_item_is_refused_alone_naming_its_field_and_nothing_is_stored_for_it()
    {
        var good = EngineTests.Random(5);

        var insert = await Json(await PostAsync("/v1/vectors", new { vectors = new object[] { new { id = "ok", values = good }, new { id = "short", values = new[] { 1f, 2f } } } }));

        var refused = insert["results"]![1]!;
        Assert.Equal("vectors[1].values", (string?)refused["error"]!["field"]);
        Assert.Equal("wrong_dimension", (string?)refused["error"]!["code"]);
        Assert.Equal(HttpStatusCode.NotFound, (await _served.Http.GetAsync("/v1/vectors/short")).StatusCode);
        Assert.Equal(1, (int)(await Json(await _served.Http.GetAsync("/v1/stats")))["vectors"]!);
    }

    [Theory]
    [InlineData("POST", "/v1/vectors", "{\"vectors\": []}", "vectors")]
    [InlineData("POST", "/v1/vectors", "{\"vectors\": [{\"id\": \"a\", \"values\": [1, \"x\"]}]}", "vectors[0].values[1]")]
    [InlineData("POST", "/v1/vectors", "not json", "body")]
    [InlineData("POST", "/v1/query", "{\"values\": [1, 2], \"limit\": 0}", "limit")]
    [InlineData("POST", "/v1/query", "{}", "values")]
    [InlineData("GET", "/v1/clusters?rung=0.5", null, "rung")]
    [InlineData("GET", "/v1/clusters?page=0", null, "page")]
    [InlineData("GET", "/v1/clusters?page_size=100000", null, "page_size")]
    [InlineData("GET", "/v1/clusters?min_size=0", null, "min_size")]
    [InlineData("POST", "/v1/deletions", "{}", "ids")]
    [InlineData("POST", "/v1/deletions", "{\"ids\": [\"a\", \"\"]}", "ids[1]")]
    public async Task Bad_requests_get_a_problem_naming_the_field(string method, string path, string? body, string field)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        var response = await _served.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await Json(response);
        Assert.Equal(400, (int)problem["status"]!);
        Assert.True(problem["errors"]!.AsObject().ContainsKey(field), $"errors name {string.Join(", ", problem["errors"]!.AsObject().Select(e => e.Key))}, not {field}");
        Assert.Equal(0, (int)(await Json(await _served.Http.GetAsync("/v1/stats")))["vectors"]!);
    }

    [Fact]
    public async Task A_deleted_vector_is_gone_from_every_route_and_deleting_it_again_is_a_404()
    {
        var (a, b) = Pair(4, 0.995);
        await PostAsync("/v1/vectors", new { vectors = new object[] { new { id = "a", values = a } } });
        await PostAsync("/v1/vectors", new { vectors = new object[] { new { id = "b", values = b }, new { id = "c", values = EngineTests.Random(98) } } });

        var deleted = await _served.Http.DeleteAsync("/v1/vectors/a");
        var again = await _served.Http.DeleteAsync("/v1/vectors/a");
        var batch = await Json(await PostAsync("/v1/deletions", new { ids = new[] { "c", "nobody" } }));

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        Assert.Contains("nothing was deleted", (string?)(await Json(again))["detail"], StringComparison.Ordinal);
        Assert.Equal([true, false], batch["results"]!.AsArray().Select(r => (bool)r!["deleted"]!));
        Assert.Equal(HttpStatusCode.NotFound, (await _served.Http.GetAsync("/v1/vectors/a")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _served.Http.GetAsync("/v1/vectors/c/values")).StatusCode);
        var stats = await Json(await _served.Http.GetAsync("/v1/stats"));
        Assert.Equal(1, (int)stats["vectors"]!);
        var query = await Json(await PostAsync("/v1/query", new { values = a }));
        Assert.Equal(["b"], query["neighbours"]!.AsArray().Select(n => (string?)n!["id"]));
    }

    [Fact]
    public async Task Unknown_vectors_and_clusters_are_404_problems()
    {
        var vector = await _served.Http.GetAsync("/v1/vectors/nobody");
        var cluster = await _served.Http.GetAsync("/v1/clusters/12345");

        Assert.Equal(HttpStatusCode.NotFound, vector.StatusCode);
        Assert.Contains("nobody", (string?)(await Json(vector))["detail"], StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, cluster.StatusCode);
        Assert.Equal("application/problem+json", cluster.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Health_readiness_silos_and_shards_describe_the_embedded_server()
    {
        Assert.Equal("alive", (string?)(await Json(await _served.Http.GetAsync("/healthz")))["status"]);
        Assert.Equal("serving", (string?)(await Json(await _served.Http.GetAsync("/readyz")))["status"]);
        var silos = (await Json(await _served.Http.GetAsync("/v1/silos"))).AsArray();
        Assert.Equal(_served.Server.Address, (string?)Assert.Single(silos)!["address"]);
        Assert.Equal(Scheme.ShardCount, (int)silos[0]!["shards"]!);
        var shards = (await Json(await _served.Http.GetAsync("/v1/shards"))).AsArray();
        Assert.Equal(Enumerable.Range(0, Scheme.ShardCount), shards.Select(s => (int)s!["shard"]!));
    }

    [Fact]
    public async Task The_openapi_document_lists_every_route_the_server_maps()
    {
        var document = await Json(await _served.Http.GetAsync("/openapi.json"));
        var paths = document["paths"]!.AsObject();

        (string Path, string Method)[] routes =
        [
            ("/v1/vectors", "post"), ("/v1/vectors/{id}", "get"), ("/v1/query", "post"), ("/v1/clusters", "get"),
            ("/v1/clusters/{id}", "get"), ("/v1/stats", "get"), ("/v1/silos", "get"), ("/v1/shards", "get"),
            ("/v1/vectors/{id}/values", "get"), ("/v1/clusters/histogram", "get"), ("/v1/activity", "get"), ("/v1/drain", "post"),
            ("/v1/vectors/{id}", "delete"), ("/v1/deletions", "post"), ("/v1/events", "get"),
            ("/healthz", "get"), ("/readyz", "get"), ("/metrics", "get"),
        ];
        foreach (var (path, method) in routes)
        {
            Assert.True(paths.ContainsKey(path), $"/openapi.json has no {path}");
            Assert.True(paths[path]!.AsObject().ContainsKey(method), $"/openapi.json has no {method} {path}");

            // And the route answers (not 404/405) where the document says it is.
            var concrete = path.Replace("{id}", "1", StringComparison.Ordinal) + (path == "/v1/events" ? "?wait=0" : string.Empty); // no long poll
            using var request = new HttpRequestMessage(new HttpMethod(method.ToUpperInvariant()), concrete);
            if (method == "post")
            {
                request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
            }

            var status = (await _served.Http.SendAsync(request)).StatusCode;
            Assert.NotEqual(HttpStatusCode.MethodNotAllowed, status);
            Assert.True(status != HttpStatusCode.NotFound || concrete.Contains("/1", StringComparison.Ordinal), $"{method} {concrete}: {status}");
        }

        Assert.Equal(routes.Select(r => r.Path).Distinct().Order(), paths.Select(p => p.Key).Where(p => p != "/openapi.json").Order());
    }

    private Task<HttpResponseMessage> PostAsync(string path, object body) =>
        _served.Http.PostAsJsonAsync(path, body, new JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals });

    private static async Task<JsonNode> Json(HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync()) ?? throw new InvalidOperationException("empty body");

    private static (float[] A, float[] B) Pair(ulong seed, double cosine) => EngineTests.Pair(seed, cosine);
}
