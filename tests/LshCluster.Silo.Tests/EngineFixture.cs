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
