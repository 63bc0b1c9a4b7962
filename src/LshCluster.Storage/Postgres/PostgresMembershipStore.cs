using LshCluster.Runtime.Membership;
using Npgsql;

namespace LshCluster.Storage.Postgres;

/// <summary>
/// Membership and shard leases in PostgreSQL (migration 0002): leases are judged by the database's <c>now()</c>,
/// and claims are compare-and-set updates of the shard's epoch, so two silos can never both believe they own a shard
/// whose writes would be accepted.
/// </summary>
public sealed class PostgresMembershipStore : IMembershipStore, IAsyncDisposable
{
    // The owner of a lease is alive when some incarnation with that name holds an unexpired lease and has not left.
    private const string OwnerAliveSql = """
        EXISTS (SELECT 1 FROM silos s
                WHERE s.address || '#' || s.generation = l.owner AND s.lease_expires > now() AND s.status <> 'left')
        """;

    private readonly NpgsqlDataSource _dataSource;

    /// <summary>Opens the membership tables of the database <paramref name="connectionString"/> names (migrated by the dedup store).</summary>
    public PostgresMembershipStore(string connectionString)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        builder.ConnectionStringBuilder.ApplicationName ??= "lshcluster-membership";

        // Lease renewals must not queue behind bulk writes: a small pool of their own.
        builder.ConnectionStringBuilder.MaxPoolSize = 4;
        builder.ConnectionStringBuilder.Timeout = 5;
        builder.ConnectionStringBuilder.CommandTimeout = 5;
        _dataSource = builder.Build();
    }

    /// <inheritdoc />
    public async Task<SiloIdentity> JoinAsync(string address, TimeSpan lease, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        await using var command = _dataSource.CreateCommand("""
            INSERT INTO silos (address, generation, status, lease_expires)
            VALUES (@address, nextval('silo_generation'), 'active', now() + @lease)
            RETURNING generation
            """);
        command.Parameters.AddWithValue("address", address);
        command.Parameters.AddWithValue("lease", lease);
        var generation = (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        return new SiloIdentity(address, generation);
    }

    /// <inheritdoc />
    public async Task<bool> RenewAsync(SiloIdentity silo, TimeSpan lease, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand("""
            UPDATE silos SET lease_expires = now() + @lease
            WHERE address = @address AND generation = @generation AND lease_expires > now() AND status <> 'left'
            """);
        command.Parameters.AddWithValue("lease", lease);
        command.Parameters.AddWithValue("address", silo.Address);
        command.Parameters.AddWithValue("generation", silo.Generation);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public async Task SetDrainingAsync(SiloIdentity silo, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand(
            "UPDATE silos SET status = 'draining' WHERE address = @address AND generation = @generation AND status = 'active'");
        command.Parameters.AddWithValue("address", silo.Address);
        command.Parameters.AddWithValue("generation", silo.Generation);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task LeaveAsync(SiloIdentity silo, CancellationToken cancellationToken = default)
    {
        await using var batch = _dataSource.CreateBatch();
        batch.BatchCommands.Add(Command("UPDATE shard_leases SET owner = NULL WHERE owner = @owner", ("owner", silo.ToString())));
        batch.BatchCommands.Add(Command(
            "UPDATE silos SET status = 'left', lease_expires = now() WHERE address = @address AND generation = @generation",
            ("address", silo.Address), ("generation", silo.Generation)));
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<SiloEntry>> ReadSilosAsync(CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand("""
            SELECT address, generation, status, lease_expires > now() AND status <> 'left', lease_expires, started_at
            FROM silos ORDER BY address, generation
            """);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var silos = new List<SiloEntry>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            silos.Add(new SiloEntry(
                new SiloIdentity(reader.GetString(0), reader.GetInt64(1)),
                reader.GetString(2),
                reader.GetBoolean(3),
                reader.GetFieldValue<DateTimeOffset>(4),
                reader.GetFieldValue<DateTimeOffset>(5)));
        }

        return silos;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ShardOwnership>> ReadShardOwnersAsync(CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand($"SELECT l.shard, l.owner, l.epoch, {OwnerAliveSql} FROM shard_leases l ORDER BY l.shard");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var owners = new List<ShardOwnership>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            owners.Add(new ShardOwnership(reader.GetInt32(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetInt64(2), reader.GetBoolean(3)));
        }

        return owners;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyDictionary<int, long>> TryClaimShardsAsync(SiloIdentity silo, IReadOnlyList<int> shards, CancellationToken cancellationToken = default)
    {
        // One statement: the free rows are locked (FOR UPDATE) before the update, so of two silos claiming the same
        // free shard exactly one gets it; the other skips the locked row.
        // Rows locked by a writer still in its transaction are skipped, not waited for (the writer is frozen perhaps:
        // its session ends after idle_in_transaction_session_timeout), so that the other shards are claimed now.
        await using var command = _dataSource.CreateCommand($"""
            WITH free AS (
                SELECT l.shard FROM shard_leases AS l
                WHERE l.shard = ANY(@shards)
                  AND (l.owner IS NULL OR l.owner = @owner OR NOT {OwnerAliveSql})
                FOR UPDATE SKIP LOCKED)
            UPDATE shard_leases AS l SET epoch = l.epoch + 1, owner = @owner
            FROM free
            WHERE l.shard = free.shard
              AND EXISTS (SELECT 1 FROM silos m WHERE m.address = @address AND m.generation = @generation
                          AND m.lease_expires > now() AND m.status <> 'left')
            RETURNING l.shard, l.epoch
            """);
        command.Parameters.AddWithValue("owner", silo.ToString());
        command.Parameters.AddWithValue("shards", shards.ToArray());
        command.Parameters.AddWithValue("address", silo.Address);
        command.Parameters.AddWithValue("generation", silo.Generation);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var claimed = new Dictionary<int, long>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            claimed[reader.GetInt32(0)] = reader.GetInt64(1);
        }

        return claimed;
    }

    /// <inheritdoc />
    public async Task ReleaseShardsAsync(SiloIdentity silo, IReadOnlyList<int> shards, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand("UPDATE shard_leases SET owner = NULL WHERE shard = ANY(@shards) AND owner = @owner");
        command.Parameters.AddWithValue("shards", shards.ToArray());
        command.Parameters.AddWithValue("owner", silo.ToString());
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyDictionary<int, string>> ReadPinsAsync(CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand("SELECT shard, address FROM shard_pins");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var pins = new Dictionary<int, string>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            pins[reader.GetInt32(0)] = reader.GetString(1);
        }

        return pins;
    }

    /// <inheritdoc />
    public async Task PinShardsAsync(IReadOnlyList<int> shards, string? address, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand(address is null
            ? "DELETE FROM shard_pins WHERE shard = ANY(@shards)"
            : """
              INSERT INTO shard_pins (shard, address) SELECT s, @address FROM unnest(@shards) AS s
              ON CONFLICT (shard) DO UPDATE SET address = EXCLUDED.address, pinned_at = now()
              """);
        command.Parameters.AddWithValue("shards", shards.ToArray());
        if (address is not null)
        {
            command.Parameters.AddWithValue("address", address);
        }

        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    private static NpgsqlBatchCommand Command(string sql, params (string Name, object Value)[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return command;
    }
}
