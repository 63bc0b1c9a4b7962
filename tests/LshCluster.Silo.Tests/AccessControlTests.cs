using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LshCluster.Core.Hashing;
using LshCluster.Silo.Security;
using Microsoft.Extensions.Logging;

namespace LshCluster.Silo.Tests;

/// <summary>API keys on the REST API of a real server (the embedded engine on SQLite, over a socket).</summary>
public sealed class AccessControlTests : IAsyncLifetime
{
    private const string ProducerSecret = "producer-secret-7b1e2c9d";
    private const string AdminSecret = "admin-secret-5f0a9e31c2";
    private static readonly LshScheme Scheme = TempStores.Plan(8, [0.99f], shards: 8);
    private readonly RecordingLogs _logs = new();
    private ServedStore _served = null!;

    public async Task InitializeAsync() =>
        _served = await ServedStore.StartAsync(Scheme, Credentials.Of($"ingest:producer:{ProducerSecret},ops:admin:{AdminSecret}"), _logs.Factory);

    public async Task DisposeAsync()
    {
        await _served.DisposeAsync();
        _logs.Dispose();
    }

    [Theory]
    [InlineData(null, "requires an API key")]
    [InlineData("Bearer not-one-of-the-keys-at-all", "not one of this cluster's keys")]
    [InlineData("Basic aW5nZXN0OnNlY3JldA==", "expected 'Bearer KEY'")]
    public async Task An_insert_without_a_known_key_is_401_says_why_and_stores_nothing(string? authorization, string reason)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/vectors") { Content = JsonContent.Create(new { vectors = new[] { new { id = "a", values = Values(1) } } }) };
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        using var response = await _served.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        var problem = await Problem(response);
        Assert.Equal(401, (int)problem["status"]!);
        Assert.StartsWith("authorization: ", (string)problem["detail"]!, StringComparison.Ordinal);
        Assert.Contains(reason, (string)problem["detail"]!, StringComparison.Ordinal);
        Assert.Equal(0, (await _served.Engine.GetStatsAsync()).Vectors);
    }

    [Fact]
    public async Task A_producer_key_ingests_and_reads_but_draining_deleting_and_moving_shards_take_an_admin_key()
    {
        var insert = await SendAsync(HttpMethod.Post, "/v1/vectors", ProducerSecret, new { vectors = new[] { new { id = "a", values = Values(1) } } });
        var stats = await SendAsync(HttpMethod.Get, "/v1/stats", ProducerSecret);
        var drainAsProducer = await SendAsync(HttpMethod.Post, "/v1/drain", ProducerSecret, new { });
        var drainAsAdmin = await SendAsync(HttpMethod.Post, "/v1/drain", AdminSecret, new { });
        var readAsAdmin = await SendAsync(HttpMethod.Get, "/v1/vectors/a", AdminSecret);
        var deleteAsProducer = await SendAsync(HttpMethod.Delete, "/v1/vectors/a", ProducerSecret);
        var deletionsAsProducer = await SendAsync(HttpMethod.Post, "/v1/deletions", ProducerSecret, new { ids = new[] { "a" } });
        var stillThere = (await _served.Engine.GetStatsAsync()).Vectors;
        var deleteAsAdmin = await SendAsync(HttpMethod.Delete, "/v1/vectors/a", AdminSecret);

        Assert.Equal(HttpStatusCode.OK, insert.StatusCode);
        Assert.Equal(1, (int)(await Problem(stats))["vectors"]!);
        Assert.Equal(HttpStatusCode.Forbidden, drainAsProducer.StatusCode);
        Assert.Equal("authorization: key 'ingest' has role producer; POST /v1/drain needs an admin key", (string?)(await Problem(drainAsProducer))["detail"]);

        // The admin key passes; the embedded server then says why it cannot drain (no other process to hand shards to).
        Assert.Equal(HttpStatusCode.Conflict, drainAsAdmin.StatusCode);
        Assert.Equal(HttpStatusCode.OK, readAsAdmin.StatusCode);

        Assert.Equal(HttpStatusCode.Forbidden, deleteAsProducer.StatusCode);
        Assert.Equal("authorization: key 'ingest' has role producer; DELETE /v1/vectors/a needs an admin key", (string?)(await Problem(deleteAsProducer))["detail"]);
        Assert.Equal(HttpStatusCode.Forbidden, deletionsAsProducer.StatusCode);
        Assert.Equal(1, stillThere);
        Assert.Equal(HttpStatusCode.NoContent, deleteAsAdmin.StatusCode);

        Assert.Equal(0, (await _served.Engine.GetStatsAsync()).Vectors);
    }

    [Fact]
    public async Task A_drain_takes_a_json_body_so_that_another_sites_form_cannot_send_one()
    {
        using var form = new HttpRequestMessage(HttpMethod.Post, "/v1/drain") { Content = new FormUrlEncodedContent([]) };
        form.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminSecret);

        using var response = await _served.Http.SendAsync(form);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact]
    public async Task Probes_the_dashboard_page_metrics_and_the_api_document_need_no_key()
    {
        foreach (var path in new[] { "/healthz", "/readyz", "/", "/metrics", "/openapi.json" })
        {
            using var response = await _served.Http.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {response.StatusCode}");
        }

        // ... but what the page reads does, and the API document says which routes take a key.
        using var stats = await _served.Http.GetAsync("/v1/stats");
        Assert.Equal(HttpStatusCode.Unauthorized, stats.StatusCode);
        var document = JsonNode.Parse(await _served.Http.GetStringAsync("/openapi.json"))!;
        Assert.Equal("bearer", (string?)document["components"]!["securitySchemes"]!["bearer"]!["scheme"]);
        Assert.NotNull(document["paths"]!["/v1/vectors"]!["post"]!["security"]![0]!["bearer"]);
        Assert.NotNull(document["paths"]!["/v1/drain"]!["post"]!["security"]);
        Assert.NotNull(document["paths"]!["/v1/vectors/{id}"]!["delete"]!["security"]);
        Assert.Null(document["paths"]!["/healthz"]!["get"]!["security"]);
    }

    [Fact]
    public async Task Refusals_are_logged_and_counted_with_the_key_name_never_the_secret()
    {
        await SendAsync(HttpMethod.Get, "/v1/stats", "a-guess-at-a-key-12345");
        await SendAsync(HttpMethod.Post, "/v1/drain", ProducerSecret, new { });

        var lines = _logs.Lines;
        Assert.Contains(lines, l => l.Contains("refused GET /v1/stats from 127.0.0.1: authorization: the key is not one of this cluster's keys", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("refused POST /v1/drain from 127.0.0.1: authorization: key 'ingest' has role producer", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains(ProducerSecret, StringComparison.Ordinal) || l.Contains("a-guess-at-a-key", StringComparison.Ordinal) || l.Contains(AdminSecret, StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("API keys required: 2 configured (ingest: producer, ops: admin)", StringComparison.Ordinal));

        var metrics = await _served.Http.GetStringAsync("/metrics");
        Assert.Matches("(?m)^lshcluster_access_refusals_total\\{[^}]*api=\"rest\",reason=\"forbidden\"\\} [1-9]", metrics);
        Assert.Matches("(?m)^lshcluster_access_refusals_total\\{[^}]*api=\"rest\",reason=\"unauthenticated\"\\} [1-9]", metrics);
    }

    [Fact]
    public async Task A_flood_of_refusals_is_counted_in_full_but_logged_only_in_part()
    {
        var before = _logs.Lines.Count(l => l.StartsWith("refused ", StringComparison.Ordinal));
        for (var i = 0; i < 60; i++)
        {
            using var response = await _served.Http.GetAsync("/v1/stats");
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        var logged = _logs.Lines.Count(l => l.StartsWith("refused ", StringComparison.Ordinal)) - before;
        Assert.InRange(logged, 1, 20);
    }

    [Fact]
    public async Task Keys_served_without_tls_beyond_loopback_are_warned_about_at_start()
    {
        using var logs = new RecordingLogs();
        using var stores = new TempStores();
        await using var engine = await TempStores.CreateAsync(stores.NewSqlite(), Scheme);
        await using (await Hosting.EmbeddedServer.StartAsync(engine, "0.0.0.0:0", logs.Factory, Credentials.Of($"ingest:producer:{ProducerSecret}")))
        {
        }

        Assert.Contains(logs.Lines, l => l.Contains("cross the network in clear text", StringComparison.Ordinal));
        Assert.DoesNotContain(_logs.Lines, l => l.Contains("clear text", StringComparison.Ordinal)); // this class's server: loopback only
    }

    [Fact]
    public void The_log_budget_allows_a_burst_per_window_and_then_says_how_many_it_left_out()
    {
        var budget = new LogBudget(burst: 2, TimeSpan.FromSeconds(10));
        var t = DateTimeOffset.UnixEpoch;

        Assert.True(budget.TryTake(t, out var first));
        Assert.True(budget.TryTake(t.AddSeconds(1), out _));
        Assert.False(budget.TryTake(t.AddSeconds(2), out _));
        Assert.False(budget.TryTake(t.AddSeconds(9), out _));
        Assert.True(budget.TryTake(t.AddSeconds(10), out var afterWindow));

        Assert.Equal(0, first);
        Assert.Equal(2, afterWindow);
    }

    private static float[] Values(int seed) => [.. Enumerable.Range(0, 8).Select(i => (float)Math.Sin(seed + i))];

    private static async Task<JsonNode> Problem(HttpResponseMessage response) => JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string secret, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        var response = await _served.Http.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    /// <summary>Every line logged, formatted, as an operator would read it.</summary>
    private sealed class RecordingLogs : ILoggerProvider
    {
        // Disposing the provider disposes the factory (which would dispose the provider: once is enough).
        private int _disposed;

        private readonly ConcurrentQueue<string> _lines = new();

        public RecordingLogs() => Factory = LoggerFactory.Create(b => b.AddProvider(this));

        public ILoggerFactory Factory { get; }

        public IReadOnlyList<string> Lines => [.. _lines];

        public ILogger CreateLogger(string categoryName) => new Logger(_lines);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Factory.Dispose();
            }
        }

        private sealed class Logger(ConcurrentQueue<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                lines.Enqueue(formatter(state, exception));
        }
    }
}
