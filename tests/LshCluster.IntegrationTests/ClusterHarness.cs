using LshCluster.Client;
using LshCluster.Core.Hashing;
using LshCluster.Core.Planning;
using LshCluster.Core.Vectors;
using LshCluster.Protocol.V1;
using LshCluster.Silo.Engine;
using LshCluster.Storage.Postgres;
using LshCluster.Storage.Tests;
using Npgsql;

namespace LshCluster.IntegrationTests;

/// <summary>A cluster for one test: its own database on the shared PostgreSQL server, and silo processes.</summary>
internal sealed class ClusterHarness : IAsyncDisposable
{
    private readonly List<SiloProcess> _silos = [];

    private ClusterHarness(PostgresServer server, string connectionString, LshScheme scheme)
    {
        Server = server;
        ConnectionString = connectionString;
        Scheme = scheme;
    }

    public PostgresServer Server { get; }

    public string ConnectionString { get; }

    public LshScheme Scheme { get; }

    public IReadOnlyList<SiloProcess> Silos => _silos;

    /// <summary>The scheme every test uses: d = 64, rungs 0.99 / 0.98 / 0.95, 1,024 shards.</summary>
    public static LshScheme TestScheme(int shards = 1024) => LshPlanner.Plan(new PlanRequest
    {
        Dimension = Dimension,
        Threshold = 0.95f,
        Recall = 0.99,
        Rungs = [0.99f, 0.98f, 0.95f],
        ShardCount = shards,
        StoredVectors = 10_000,
    }).Scheme;

    public const int Dimension = 64;

    /// <summary>The checkout the tests run from (scripts and the Python client live there).</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LshCluster.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("the repository root (LshCluster.sln) was not found above the test binaries");
    }

    public static async Task<ClusterHarness> CreateAsync(PostgresServer server, LshScheme scheme)
    {
        var connectionString = await server.CreateDatabaseAsync("cluster");
        await DedupEngine.CreateAsync(new PostgresDedupStore(connectionString), scheme);
        return new ClusterHarness(server, connectionString, scheme);
    }

    /// <summary>The certificate the silos' https chains to, when they serve TLS with one of their own (the harness's REST calls trust it).</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? TrustedCertificate { get; set; }

    /// <summary>Added to the environment of every silo started from now on (API keys, the cluster secret).</summary>
    public Dictionary<string, string> SiloEnvironment { get; } = [];

    public async Task<SiloProcess> StartSiloAsync(params string[] extraArguments)
    {
        var silo = await SiloProcess.StartAsync(ConnectionString, SiloEnvironment, ["--silo-port", "0", .. extraArguments]);
        _silos.Add(silo);
        return silo;
    }

    public async Task<LshClusterClient> ClientAsync(TimeSpan? deadline = null, System.Security.Cryptography.X509Certificates.X509Certificate2? trusted = null, string? apiKey = null)
    {
        var options = new LshClusterClientOptions { Deadline = deadline ?? TimeSpan.FromSeconds(90), TrustedCertificate = trusted, ApiKey = apiKey };
        foreach (var silo in _silos.Where(s => !s.HasExited))
        {
            options.Seeds.Add(new Uri(silo.Address));
        }

        return await LshClusterClient.ConnectAsync(options);
    }

    /// <summary>Waits until every shard has a live owner and the live silos own them all.</summary>
    public async Task WaitForOwnersAsync(int silos, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (true)
        {
            var counts = await OwnedShardsAsync();
            if (counts.Count == silos && counts.Values.Sum() == Scheme.ShardCount)
            {
                return;
            }

            if (DateTime.UtcNow > until)
            {
                throw new TimeoutException($"after {timeout}: live owners {string.Join(", ", counts.Select(c => $"{c.Key}={c.Value}"))}\n{Logs()}");
            }

            await Task.Delay(200);
        }
    }

    /// <summary>
    /// Waits until <paramref name="silos"/> live silos own every shard, each within ±10 % of an even share (moves are
    /// rate-limited, so a newcomer fills up over a few rounds).
    /// </summary>
    public async Task WaitForBalanceAsync(int silos, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        var even = (double)Scheme.ShardCount / silos;
        while (true)
        {
            var counts = await OwnedShardsAsync();
            if (counts.Count == silos && counts.Values.Sum() == Scheme.ShardCount && counts.Values.All(n => n >= even * 0.9 && n <= even * 1.1))
            {
                return;
            }

            if (DateTime.UtcNow > until)
            {
                throw new TimeoutException($"after {timeout}: live owners {string.Join(", ", counts.Select(c => $"{c.Key}={c.Value}"))}, not {silos} even shares\n{Logs()}");
            }

            await Task.Delay(200);
        }
    }

    /// <summary>The last lines each silo printed, for failure messages.</summary>
    public string Logs() => string.Join("\n", _silos.Select(s =>
        $"--- silo {s.Address} (pid {s.Pid}){(s.HasExited ? " exited" : string.Empty)}:\n{string.Join("\n", s.Output.Split('\n').TakeLast(40))}"));

    /// <summary>Where each shard's grain is active, by the gRPC address of its silo (<c>/v1/shards</c>).</summary>
    public async Task<Dictionary<int, string>> ShardOwnersAsync()
    {
        var shards = await AskAnySiloAsync("/v1/shards");
        return shards.AsArray().Where(s => s!["owner"] is not null).ToDictionary(s => (int)s!["shard"]!, s => (string)s!["owner"]!);
    }

    /// <summary>Shard grains active on each active silo that hosts any, by its gRPC address (<c>/v1/silos</c>).</summary>
    public async Task<Dictionary<string, int>> OwnedShardsAsync()
    {
        var silos = await AskAnySiloAsync("/v1/silos");
        return silos.AsArray().Where(s => (string?)s!["status"] == "active" && (int)s!["shards"]! > 0).ToDictionary(s => (string)s!["address"]!, s => (int)s!["shards"]!);
    }

    /// <summary>A REST answer from the first live silo that gives one.</summary>
    private async Task<System.Text.Json.Nodes.JsonNode> AskAnySiloAsync(string path)
    {
        using var handler = new HttpClientHandler();
        if (TrustedCertificate is { } trusted)
        {
            handler.ServerCertificateCustomValidationCallback = (_, certificate, chain, _) =>
            {
                chain!.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(trusted);
                return chain.Build(certificate!);
            };
        }

        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };

        // A keyed cluster answers callers with a key: the first one the silos were given (NAME:ROLE:KEY, comma-separated).
        if (SiloEnvironment.TryGetValue("LSHC_API_KEYS", out var keys) && keys.Split(',')[0].Split(':') is [_, _, var key])
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        }

        Exception? last = null;
        foreach (var silo in _silos.Where(s => !s.HasExited))
        {
            try
            {
                return System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync($"{silo.HttpAddress}{path}"))!;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                last = e;
            }
        }

        throw new InvalidOperationException($"no live silo answered {path}", last);
    }

    /// <summary>The external ids stored, with how many rows each has (a unique key makes more than one impossible).</summary>
    public async Task<List<string>> StoredIdsAsync()
    {
        await using var connection = new NpgsqlConnection(ConnectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT external_id FROM vectors WHERE NOT deleted", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new List<string>();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }

    /// <summary>
    /// The clusters at every rung as sorted lists of external ids, read by an embedded engine over the cluster's
    /// database once every silo is stopped (it claims every shard).
    /// </summary>
    public async Task<List<List<string>>[]> ClustersFromStoreAsync()
    {
        await StopAllAsync();
        await using var engine = await DedupEngine.OpenAsync(new PostgresDedupStore(ConnectionString));
        return await ClustersAsync(engine);
    }

    public static async Task<List<List<string>>[]> ClustersAsync(DedupEngine engine)
    {
        var rungs = new List<List<string>>[engine.Rungs.Count];
        for (var r = 0; r < rungs.Length; r++)
        {
            rungs[r] = [.. (await engine.ExportClustersAsync(r)).Select(c => c.Order(StringComparer.Ordinal).ToList()).OrderBy(c => c[0], StringComparer.Ordinal)];
        }

        return rungs;
    }

    public async Task StopAllAsync()
    {
        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync() => await StopAllAsync();

    /// <summary>
    /// Test vectors in rounds: round 0 holds the originals; each later round holds at most one near-duplicate of each
    /// original (at cosine 0.995, 0.985 or 0.96), so that no vector has a near-duplicate in its own round and every
    /// verdict depends only on earlier rounds — the same in any engine that finishes a round before the next.
    /// </summary>
    public static List<List<Vector>> Rounds(int originals, int rounds, int copiesPerRound, ulong seed)
    {
        var rng = SplitMix64.ForStream(seed, 42);
        var result = new List<List<Vector>>();
        var bases = new List<float[]>();
        var first = new List<Vector>();
        for (var i = 0; i < originals; i++)
        {
            var v = new float[Dimension];
            SyntheticVectors.RandomUnit(ref rng, v);
            bases.Add(v);
            first.Add(new Vector { Id = $"o{i}", Values = { v } });
        }

        result.Add(first);
        double[] cosines = [0.995, 0.985, 0.96];
        for (var r = 1; r < rounds; r++)
        {
            var round = new List<Vector>();
            var picked = new HashSet<int>();
            while (round.Count < copiesPerRound)
            {
                var o = (int)(rng.NextDouble() * originals);
                if (!picked.Add(o))
                {
                    continue;
                }

                var copy = new float[Dimension];
                SyntheticVectors.NearDuplicate(bases[o], cosines[(int)(rng.NextDouble() * 3)], ref rng, copy);
                round.Add(new Vector { Id = $"c{r}-{o}", Values = { copy } });
            }

            result.Add(round);
        }

        return result;
    }
}
