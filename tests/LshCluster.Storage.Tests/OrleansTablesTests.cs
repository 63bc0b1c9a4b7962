using System.Net;
using System.Net.Sockets;
using LshCluster.Storage.Postgres;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Configuration;
using Orleans.Storage;

namespace LshCluster.Storage.Tests;

/// <summary>
/// The Orleans tables and queries our migrations create (0005_orleans.sql), run by Orleans' own ADO.NET providers
/// against a real PostgreSQL: two silos join through the membership table, a client finds them through its gateway
/// query, a grain's state survives its deactivation, and a write over a version that moved is refused.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class OrleansTablesTests(PostgresServer server)
{
    private const string StorageName = "lshc";

    [Fact]
    public async Task Silos_join_a_client_connects_and_grain_state_persists_through_the_migrated_tables()
    {
        var connectionString = await server.CreateDatabaseAsync("orleans");
        await using (var store = new PostgresDedupStore(connectionString))
        {
            await store.MigrateAsync();
        }

        var clusterId = $"test-{Guid.NewGuid():N}";
        using var first = await StartSiloAsync(connectionString, clusterId);
        using var second = await StartSiloAsync(connectionString, clusterId);
        using var client = await StartClientAsync(connectionString, clusterId);
        var grains = client.Services.GetRequiredService<IClusterClient>();

        // Both silos are members, and each knows the other (membership is read and written only through our queries).
        var management = grains.GetGrain<IManagementGrain>(0);
        var hosts = await WaitForAsync(() => management.GetHosts(onlyActive: true), h => h.Count == 2);
        Assert.Equal(2, hosts.Count);
        Assert.Equal(new[] { 3, 3 }, await StatusesAsync(connectionString, clusterId)); // 3: Active

        // Grain state: written, read back after the activation is gone, versioned by our write query.
        var counter = grains.GetGrain<ICounterGrain>(42);
        Assert.Equal(5, await counter.AddAsync(5));
        Assert.Equal(12, await counter.AddAsync(7));
        await counter.DeactivateAsync();
        Assert.Equal(12, await counter.GetAsync());
        Assert.Equal(2, await ScalarAsync<int>(connectionString, "SELECT Version FROM OrleansStorage"));

        // A write over a version that moved behind the grain's back (a second activation in a partition) is refused.
        await ScalarAsync<int>(connectionString, "UPDATE OrleansStorage SET Version = Version + 1 RETURNING Version");
        await Assert.ThrowsAsync<InconsistentStateException>(() => counter.AddAsync(1));
        Assert.Equal(3, await ScalarAsync<int>(connectionString, "SELECT Version FROM OrleansStorage"));

        // A silo that shuts down says so in the table (6: Dead); the other stays active.
        await second.StopAsync();
        Assert.Equal(new[] { 3, 6 }, await StatusesAsync(connectionString, clusterId));
        await first.StopAsync();
    }

    private static async Task<IHost> StartSiloAsync(string connectionString, string clusterId)
    {
        var host = Host.CreateDefaultBuilder()
            .ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Warning))
            .UseOrleans(silo => silo
                .Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (clusterId, "lshcluster-tests"))
                .ConfigureEndpoints(IPAddress.Loopback, FreePort(), FreePort())
                .UseAdoNetClustering(o => (o.Invariant, o.ConnectionString) = ("Npgsql", connectionString))
                .AddAdoNetGrainStorage(StorageName, o => (o.Invariant, o.ConnectionString) = ("Npgsql", connectionString)))
            .Build();
        await host.StartAsync();
        return host;
    }

    private static async Task<IHost> StartClientAsync(string connectionString, string clusterId)
    {
        var host = Host.CreateDefaultBuilder()
            .ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Warning))
            .UseOrleansClient(client => client
                .Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (clusterId, "lshcluster-tests"))
                .UseAdoNetClustering(o => (o.Invariant, o.ConnectionString) = ("Npgsql", connectionString)))
            .Build();
        await host.StartAsync();
        return host;
    }

    private static async Task<T> WaitForAsync<T>(Func<Task<T>> read, Func<T, bool> done)
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var value = await read();
            if (done(value) || DateTime.UtcNow > until)
            {
                return value;
            }

            await Task.Delay(100);
        }
    }

    private static async Task<int[]> StatusesAsync(string connectionString, string clusterId)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT Status FROM OrleansMembershipTable WHERE DeploymentId = @id ORDER BY StartTime", connection);
        command.Parameters.AddWithValue("id", clusterId);
        var statuses = new List<int>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            statuses.Add(reader.GetInt32(0));
        }

        return [.. statuses];
    }

    private static async Task<T> ScalarAsync<T>(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A grain with one persistent integer.</summary>
    public interface ICounterGrain : IGrainWithIntegerKey
    {
        /// <summary>Adds <paramref name="amount"/>, writes the state and returns the new value.</summary>
        Task<int> AddAsync(int amount);

        /// <summary>The stored value.</summary>
        Task<int> GetAsync();

        /// <summary>Deactivates this activation once the call returns.</summary>
        Task DeactivateAsync();
    }

    /// <summary>The counter's state.</summary>
    [GenerateSerializer]
    public sealed class CounterState
    {
        /// <summary>The value.</summary>
        [Id(0)]
        public int Value { get; set; }
    }

    /// <summary>Keeps the counter in the ADO.NET grain storage.</summary>
    public sealed class CounterGrain([PersistentState("counter", StorageName)] IPersistentState<CounterState> state) : Grain, ICounterGrain
    {
        /// <inheritdoc />
        public async Task<int> AddAsync(int amount)
        {
            state.State.Value += amount;
            await state.WriteStateAsync();
            return state.State.Value;
        }

        /// <inheritdoc />
        public Task<int> GetAsync() => Task.FromResult(state.State.Value);

        /// <inheritdoc />
        public Task DeactivateAsync()
        {
            DeactivateOnIdle();
            return Task.CompletedTask;
        }
    }
}
