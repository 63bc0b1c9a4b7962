using LshCluster.Core.Hashing;
using LshCluster.Core.Planning;
using LshCluster.Silo.Engine;
using LshCluster.Storage;

namespace LshCluster.Silo.Tests;

/// <summary>Creates engines on real SQLite files in a temporary directory, deleted afterwards.</summary>
public sealed class TempStores : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lshc-silo-tests-").FullName;
    private int _next;

    public string NewSqlite() => $"sqlite:{Path.Combine(_directory, $"store{Interlocked.Increment(ref _next)}.db")}";

    public static LshScheme Plan(int dimension, float[] rungs, int shards = 64, ulong seed = 7, IReadOnlyList<float[]>? sample = null, double recall = 0.995) =>
        LshPlanner.Plan(new PlanRequest
        {
            Dimension = dimension,
            Threshold = rungs[^1],
            Recall = recall,
            Rungs = rungs,
            ShardCount = shards,
            MaxProbes = 1,
            Seed = seed,
            StoredVectors = 10_000,
            Sample = sample,
        }).Scheme;

    public static async Task<DedupEngine> CreateAsync(string store, LshScheme scheme, DedupEngineOptions? options = null)
    {
        await DedupEngine.CreateAsync(DedupStores.Open(store), scheme);
        return await DedupEngine.OpenAsync(DedupStores.Open(store), options);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A store still closing; the OS temp cleaner gets it.
        }
    }
}

/// <summary>The embedded server (what <c>lshc serve</c> runs) on a fresh SQLite store, with a client pointed at it.</summary>
public sealed class ServedStore : IAsyncDisposable
{
    private readonly TempStores _stores;

    private ServedStore(TempStores stores, DedupEngine engine, Hosting.EmbeddedServer server)
    {
        _stores = stores;
        Engine = engine;
        Server = server;
        Http = new HttpClient { BaseAddress = new Uri(server.Address) };
    }

    public DedupEngine Engine { get; }

    public Hosting.EmbeddedServer Server { get; }

    public HttpClient Http { get; }

    public static async Task<ServedStore> StartAsync(LshScheme scheme, Security.Credentials? credentials = null, Microsoft.Extensions.Logging.ILoggerFactory? logs = null, DedupEngineOptions? options = null)
    {
        var stores = new TempStores();
        var engine = await TempStores.CreateAsync(stores.NewSqlite(), scheme, options);
        return new ServedStore(stores, engine, await Hosting.EmbeddedServer.StartAsync(engine, "127.0.0.1:0", logs, credentials));
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        await Engine.DisposeAsync();
        Http.Dispose();
        _stores.Dispose();
    }
}
