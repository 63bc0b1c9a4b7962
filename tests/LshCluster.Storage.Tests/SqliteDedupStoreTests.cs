using LshCluster.Storage.Migrations;
using LshCluster.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using static LshCluster.Storage.Tests.TestData;

namespace LshCluster.Storage.Tests;

/// <summary>The store contract on a SQLite file in a temporary directory, plus what is SQLite's own.</summary>
public sealed class SqliteDedupStoreTests : DedupStoreContract
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lshc-sqlite-").FullName;

    protected override string Engine => MigrationScripts.Sqlite;

    private string FilePath => Path.Combine(_directory, "store", "cluster.db");

    protected override Task<string> CreateEmptyStoreAsync() => Task.FromResult(DedupStores.SqlitePrefix + FilePath);

    protected override async Task<object?> ScalarAsync(string sql)
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = FilePath, Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync();
    }

    public override Task DisposeAsync()
    {
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_commit_writes_each_vector_and_its_keys_once_with_no_bucket_log()
    {
        await using (var store = await OpenClusterAsync())
        {
            await store.CommitAsync(Batch([.. Enumerable.Range(1, 12).Select(i => Vector(i))]));
        }

        Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM sqlite_master WHERE name = 'bucket_log'"));
        Assert.Equal(12L, await ScalarAsync("SELECT count(*) FROM vectors"));
    }

    [Fact]
    public async Task The_store_creates_its_directory_and_runs_in_wal_mode()
    {
        await using var store = DedupStores.Open(Store);

        await store.MigrateAsync();

        Assert.IsType<SqliteDedupStore>(store);
        Assert.True(File.Exists(FilePath));
        Assert.Equal("wal", await ScalarAsync("PRAGMA journal_mode"));
        Assert.Equal($"sqlite:{FilePath}", store.Description);
    }

    [Fact]
    public async Task Tables_are_strict_so_a_value_of_the_wrong_type_fails()
    {
        await using var store = DedupStores.Open(Store);
        await store.MigrateAsync();

        var error = await Assert.ThrowsAsync<SqliteException>(() => ScalarAsync("INSERT INTO edges (a, b, cosine) VALUES ('x', 2, 0.5)"));

        Assert.Contains("cannot store TEXT value in INTEGER column", error.Message, StringComparison.Ordinal);
    }
}
