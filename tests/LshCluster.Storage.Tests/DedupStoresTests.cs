using LshCluster.Storage.Postgres;

namespace LshCluster.Storage.Tests;

public sealed class DedupStoresTests
{
    [Theory]
    [InlineData("")]
    [InlineData("cluster.db")]
    [InlineData("sqlite:")]
    [InlineData("postgres:")]
    [InlineData("mysql:Server=db;Password=hunter2")]
    [InlineData("postgresql://lsh:hunter2@db/lsh")]
    [InlineData("Host=db;Password=hunter2")]
    [InlineData("postgres:Host=db;Pasword=hunter2")]
    public void Open_rejects_anything_but_the_two_forms_naming_the_option_and_no_secret(string value)
    {
        var error = Assert.Throws<ArgumentException>(() => DedupStores.Open(value));

        Assert.Contains("--store", error.Message, StringComparison.Ordinal);
        Assert.Contains("sqlite:PATH", error.Message, StringComparison.Ordinal);
        Assert.Contains("postgres:CONNECTION-STRING", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_of_a_postgres_store_keeps_the_password_out_of_the_description()
    {
        await using var store = DedupStores.Open("postgres:Host=db.internal;Port=5433;Database=lsh;Username=app;Password=hunter2");

        Assert.IsType<PostgresDedupStore>(store);
        Assert.Equal("postgres:Host=db.internal;Port=5433;Database=lsh;Username=app", store.Description);
    }

    [Fact]
    public async Task Open_of_a_sqlite_store_creates_the_missing_directory()
    {
        var root = Directory.CreateTempSubdirectory("lshc-open-").FullName;
        try
        {
            var path = Path.Combine(root, "a", "b", "cluster.db");

            await using var store = DedupStores.Open("sqlite:" + path);

            Assert.True(Directory.Exists(Path.GetDirectoryName(path)));
            Assert.Equal("sqlite:" + path, store.Description);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
