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

    [Fact]
    public async Task The_embedded_engine_writes_no_bucket_log_and_a_shard_loaded_later_still_gets_every_entry()
    {
        var connectionString = await postgres.CreateDatabaseAsync("nolog");
        var scheme = TempStores.Plan(64, [0.99f, 0.95f], shards: 32);
        await using (var engine = await TempStores.CreateAsync($"postgres:{connectionString}", scheme))
        {
            var results = await engine.InsertAsync([.. PlantedSet.Generate(64, 800, seed: 22).Select((v, i) => new VectorInput($"v{i}", v))]);
            Assert.All(results, r => Assert.Null(r.Error));
        }

        await using var store = new Storage.Postgres.PostgresDedupStore(connectionString);
        Assert.Equal(0L, await CountLogRowsAsync(connectionString));

        // A silo's load of one shard: the log is rebuilt from the vectors' keys, every entry once.
        var stored = new List<Storage.StoredVector>();
        await foreach (var v in store.ReadVectorsAsync())
        {
            stored.Add(v);
        }

        for (var shard = 0; shard < scheme.ShardCount; shard++)
        {
            var entries = new List<Storage.BucketEntry>();
            await foreach (var e in store.ReadBucketEntriesAsync(shard))
            {
                entries.Add(e);
            }

            var expected = stored.SelectMany(v => v.BucketKeys.Select((key, t) => (Table: t, Entry: new Storage.BucketEntry(key, v.VectorId, v.SketchLow, v.SketchHigh))))
                .Where(x => scheme.ShardOfBucket(x.Table, x.Entry.Key) == shard).Select(x => x.Entry).OrderBy(e => (e.Key, e.VectorId));
            Assert.Equal(expected, entries.OrderBy(e => (e.Key, e.VectorId)));
        }

        Assert.True(await CountLogRowsAsync(connectionString) > 0);
    }

    private static async Task<long> CountLogRowsAsync(string connectionString)
    {
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT count(*) FROM bucket_log", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
