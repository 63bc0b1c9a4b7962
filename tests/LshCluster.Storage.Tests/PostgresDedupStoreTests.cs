using LshCluster.Storage.Migrations;
using LshCluster.Storage.Postgres;
using Npgsql;

namespace LshCluster.Storage.Tests;

/// <summary>The store contract on a real PostgreSQL server, one new database per test, plus what is PostgreSQL's own.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresDedupStoreTests(PostgresServer server) : DedupStoreContract
{
    private string _connectionString = "";

    protected override string Engine => MigrationScripts.Postgres;

    protected override async Task<string> CreateEmptyStoreAsync()
    {
        _connectionString = await server.CreateDatabaseAsync("store");
        return DedupStores.PostgresPrefix + _connectionString;
    }

    protected override async Task<object?> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_connectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    [Fact]
    public async Task Vector_bytes_are_kept_inline_and_times_are_timestamptz()
    {
        await using var store = DedupStores.Open(Store);
        await store.MigrateAsync();

        Assert.IsType<PostgresDedupStore>(store);
        Assert.Equal('m', await ScalarAsync("SELECT attstorage FROM pg_attribute WHERE attrelid = 'vectors'::regclass AND attname = 'vector'"));
        Assert.Equal(
            "toast_tuple_target=8160",
            await ScalarAsync("SELECT array_to_string(reloptions, ',') FROM pg_class WHERE oid = 'vectors'::regclass"));
        Assert.Equal(
            4L,
            Convert.ToInt64(await ScalarAsync("""
                SELECT count(*) FROM information_schema.columns
                WHERE data_type = 'timestamp with time zone'
                  AND (table_name, column_name) IN (('vectors', 'inserted_at'), ('cluster_config', 'created_at'),
                                                    ('shard_leases', 'lease_expires'), ('schema_migrations', 'applied_at'))
                """)));
    }

    [Fact]
    public async Task The_description_names_the_server_and_database_but_no_password()
    {
        await using var store = DedupStores.Open(Store + ";Password=hunter2");

        Assert.DoesNotContain("hunter2", store.Description, StringComparison.Ordinal);
        Assert.Contains($"Port={server.Port}", store.Description, StringComparison.Ordinal);
        Assert.StartsWith("postgres:Host=127.0.0.1;", store.Description, StringComparison.Ordinal);
    }
}
