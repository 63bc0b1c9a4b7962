using LshCluster.Core.Evaluation;
using LshCluster.Silo.Engine;
using LshCluster.Storage.Tests;

namespace LshCluster.Silo.Tests;

/// <summary>The engine on a real PostgreSQL server: the same behaviour as on SQLite.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresEngineTests(PostgresServer postgres)
{
    [Fact]
    public async Task Planted_duplicates_cluster_and_survive_a_reopen_on_postgres()
    {
        var store = $"postgres:{await postgres.CreateDatabaseAsync("engine")}";
        float[] rungs = [0.99f, 0.95f];
        var vectors = PlantedSet.Generate(64, 1500, seed: 21, duplicateShare: 0.5);
        IReadOnlyList<IReadOnlyList<string>> before;
        await using (var engine = await TempStores.CreateAsync(store, TempStores.Plan(64, rungs, shards: 32)))
        {
            var results = await engine.InsertAsync([.. vectors.Select((v, i) => new VectorInput($"v{i}", v))]);
            Assert.All(results, r => Assert.Null(r.Error));
            Assert.Contains(results, r => r.Verdict!.Kind == VerdictKind.Duplicate);
            before = await engine.ExportClustersAsync(1);
        }

        await using var reopened = await DedupEngine.OpenAsync(Storage.DedupStores.Open(store));
        var again = await reopened.InsertAsync(new VectorInput("v0", vectors[0]));

        Assert.True(again.Verdict!.Repeated);
        Assert.Equal(before, await reopened.ExportClustersAsync(1));
        Assert.NotEmpty(before);
        Assert.Equal(vectors.Count, (await reopened.GetStatsAsync()).Vectors);
    }
}
