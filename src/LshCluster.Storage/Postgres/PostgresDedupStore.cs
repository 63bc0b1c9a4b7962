using System.Runtime.CompilerServices;
using LshCluster.Core.Hashing;
using LshCluster.Core.Ids;
using LshCluster.Storage.Migrations;
using Npgsql;
using NpgsqlTypes;

namespace LshCluster.Storage.Postgres;

/// <summary>
/// The cluster store: PostgreSQL through an <see cref="NpgsqlDataSource"/>. Each batch is one transaction that locks
/// its shards' lease rows <c>FOR SHARE</c>, checks their epochs, and writes its vectors and edges by binary COPY.
/// </summary>
/// <remarks>
/// Objects live in the first schema of the connection's search path (<c>Search Path=…</c> in the connection string
/// chooses another). Every method takes a connection from the data source's pool for its own duration, so the store
/// is safe to call from several threads and several processes; durability is PostgreSQL's (a commit returned means
/// the server has flushed it, with the default <c>synchronous_commit = on</c>).
/// </remarks>
public sealed class PostgresDedupStore : IDedupStore
{
    // Any constant works, as long as every process migrating the same database uses the same one: "LSHCMIGR".
    private const long MigrationLockKey = 0x4C53_4843_4D49_4752;

    private const string CopyVectorsSql = """
        COPY vectors (vector_id, external_id, home_shard, vector, bucket_keys, sketch_low, sketch_high,
                      is_duplicate, canonical, best_match, best_cosine, inserted_at)
        FROM STDIN (FORMAT BINARY)
        """;

    private const string SelectVectorsSql = """
        SELECT vector_id, external_id, home_shard, vector, bucket_keys, sketch_low, sketch_high,
               is_duplicate, canonical, best_match, best_cosine, inserted_at
        FROM vectors WHERE NOT deleted ORDER BY vector_id
        """;

    private const string SelectHomeVectorsSql = """
        SELECT vector_id, external_id, home_shard, vector, bucket_keys, sketch_low, sketch_high,
               is_duplicate, canonical, best_match, best_cosine, inserted_at
        FROM vectors WHERE NOT deleted AND home_shard = @shard ORDER BY vector_id
        """;

    // The migration that adds the bucket log, after which the store fills it from the vectors already stored.
    private const int BucketLogVersion = 6;

    private readonly NpgsqlDataSource _dataSource;

    // The cluster's scheme once read or created: the bucket log needs it to know which shard holds a bucket.
    private volatile LshScheme? _scheme;

    /// <summary>Creates a store over the database <paramref name="connectionString"/> names. Connects lazily.</summary>
    /// <param name="connectionString">An Npgsql connection string, e.g. <c>Host=db;Database=lsh;Username=lsh;Password=…</c>.</param>
    /// <exception cref="ArgumentException">The connection string cannot be parsed.</exception>
    public PostgresDedupStore(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        builder.ConnectionStringBuilder.ApplicationName ??= "lshcluster";

        // A writer frozen or cut off inside a transaction must not hold its shards' lease rows (FOR SHARE) for ever:
        // the server ends such a session after 10 s idle in a transaction, and TCP keepalives find dead peers.
        builder.ConnectionStringBuilder.Options = $"{builder.ConnectionStringBuilder.Options} -c idle_in_transaction_session_timeout=10000".Trim();
        builder.ConnectionStringBuilder.KeepAlive = builder.ConnectionStringBuilder.KeepAlive == 0 ? 10 : builder.ConnectionStringBuilder.KeepAlive;
        Description = Describe(builder.ConnectionStringBuilder);
        _dataSource = builder.Build();
    }

    /// <inheritdoc />
    /// <remarks>Host, port, database and user only, so that no password or other secret can reach a log.</remarks>
    public string Description { get; }

    /// <inheritdoc />
    /// <remarks>
    /// Takes a transaction-scoped advisory lock first, so that processes starting together apply each migration once:
    /// the second waits, then finds nothing to do.
    /// </remarks>
    public async Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", connection, transaction))
        {
            command.Parameters.AddWithValue("key", MigrationLockKey);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await ExecuteAsync(connection, transaction,
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
            cancellationToken).ConfigureAwait(false);
        int current;
        await using (var command = new NpgsqlCommand("SELECT coalesce(max(version), 0) FROM schema_migrations", connection, transaction))
        {
            current = (int)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }

        var migrations = MigrationScripts.Load(MigrationScripts.Postgres);
        if (current > migrations.Count)
        {
            throw new InvalidOperationException(
                $"the database ({Description}) is at schema version {current}, newer than this build knows ({migrations.Count}): use a newer lshc");
        }

        foreach (var migration in migrations.Skip(current))
        {
            await ExecuteAsync(connection, transaction, migration.Sql, cancellationToken).ConfigureAwait(false);
            await using var record = new NpgsqlCommand("INSERT INTO schema_migrations (version) VALUES (@version)", connection, transaction);
            record.Parameters.AddWithValue("version", migration.Version);
            await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            if (migration.Version == BucketLogVersion)
            {
                await FillBucketLogAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<LshScheme?> ReadSchemeAsync(CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand("SELECT scheme, fingerprint FROM cluster_config WHERE id = 1");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        var scheme = LshScheme.FromBytes(reader.GetFieldValue<byte[]>(0));
        var fingerprint = unchecked((ulong)reader.GetInt64(1));
        return scheme.Fingerprint == fingerprint
            ? _scheme = scheme
            : throw new InvalidDataException(
                $"cluster_config: the stored scheme has fingerprint {scheme.Fingerprint:x16} but the row says {fingerprint:x16}");
    }

    /// <inheritdoc />
    public async Task CreateClusterAsync(LshScheme scheme, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scheme);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        // ON CONFLICT makes a concurrent creator wait for the first one's commit and then insert nothing.
        await using (var insert = new NpgsqlCommand(
            "INSERT INTO cluster_config (id, scheme, fingerprint) VALUES (1, @scheme, @fingerprint) ON CONFLICT (id) DO NOTHING",
            connection, transaction))
        {
            insert.Parameters.AddWithValue("scheme", NpgsqlDbType.Bytea, scheme.ToBytes());
            insert.Parameters.AddWithValue("fingerprint", unchecked((long)scheme.Fingerprint));
            if (await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
            {
                throw new InvalidOperationException($"{Description} already holds a cluster; a store keeps one cluster");
            }
        }

        await using (var leases = new NpgsqlCommand(
            "INSERT INTO shard_leases (shard, owner, epoch, lease_expires) SELECT s, NULL, 0, NULL FROM generate_series(0, @count - 1) AS s",
            connection, transaction))
        {
            leases.Parameters.AddWithValue("count", scheme.ShardCount);
            await leases.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        _scheme = scheme;
    }

    /// <inheritdoc />
    public async Task<long[]> ClaimShardsAsync(string owner, IReadOnlyList<int> shards, CancellationToken cancellationToken = default)
    {
        StoreValidation.CheckClaim(owner, shards);
        var ids = shards.ToArray();
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var read = await ReadEpochsAsync(connection, transaction, ids, lockRows: false, cancellationToken).ConfigureAwait(false);
        var expected = new long[ids.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            expected[i] = read.TryGetValue(ids[i], out var epoch) ? epoch : throw NoLease(ids[i]);
        }

        // Compare-and-set: a row whose epoch moved since the read (another claimer committed in between) is not
        // updated, which the claim reports instead of taking the shard from under its new owner.
        var claimed = new Dictionary<int, long>(ids.Length);
        await using (var update = new NpgsqlCommand("""
            UPDATE shard_leases AS l SET epoch = l.epoch + 1, owner = @owner
            FROM unnest(@shards, @epochs) AS c(shard, epoch)
            WHERE l.shard = c.shard AND l.epoch = c.epoch
            RETURNING l.shard, l.epoch
            """, connection, transaction))
        {
            update.Parameters.AddWithValue("owner", owner);
            update.Parameters.AddWithValue("shards", ids);
            update.Parameters.AddWithValue("epochs", expected);
            await using var reader = await update.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                claimed[reader.GetInt32(0)] = reader.GetInt64(1);
            }
        }

        var epochs = new long[ids.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            if (!claimed.TryGetValue(ids[i], out epochs[i]))
            {
                var now = await ReadEpochsAsync(connection, transaction, [ids[i]], lockRows: false, cancellationToken).ConfigureAwait(false);
                throw new StaleEpochException(ids[i], expected[i], now.GetValueOrDefault(ids[i], expected[i]));
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return epochs;
    }

    /// <inheritdoc />
    public async Task RecordGhostsAsync(IReadOnlyList<long> vectorIds, IReadOnlyList<VerifiedEdge> edges, CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var ghosts = new NpgsqlCommand("""
            INSERT INTO deleted_vectors (vector_id, home_shard)
            SELECT g.id, g.shard FROM unnest(@ids, @shards) AS g(id, shard)
            WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.vector_id = g.id)
            ON CONFLICT (vector_id) DO NOTHING
            """, connection, transaction))
        {
            ghosts.Parameters.AddWithValue("ids", vectorIds.ToArray());
            ghosts.Parameters.AddWithValue("shards", vectorIds.Select(VectorId.HomeShard).ToArray());
            await ghosts.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (edges.Count > 0)
        {
            // In key order, as commits insert them, so that the two never deadlock on each other's edges.
            var ordered = edges.OrderBy(e => e.A).ThenBy(e => e.B).ToArray();
            await using var insert = new NpgsqlCommand(
                "INSERT INTO edges (a, b, cosine) SELECT * FROM unnest(@a, @b, @cosine) ON CONFLICT (a, b) DO NOTHING", connection, transaction);
            insert.Parameters.AddWithValue("a", ordered.Select(e => e.A).ToArray());
            insert.Parameters.AddWithValue("b", ordered.Select(e => e.B).ToArray());
            insert.Parameters.AddWithValue("cosine", ordered.Select(e => e.Cosine).ToArray());
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task CommitAsync(WriteBatch batch, CancellationToken cancellationToken = default)
    {
        StoreValidation.CheckBatch(batch);

        // PostgreSQL breaks a deadlock by rolling one transaction back whole, so the batch is simply written again.
        // Edges are inserted in key order, which keeps two silos' batches from deadlocking on each other's edges;
        // the retry covers what ordering cannot (a claim's UPDATE meeting a batch's share locks).
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await CommitOnceAsync(batch, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DeadlockDetected && attempt < MaxCommitAttempts)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(5, 50) * attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private const int MaxCommitAttempts = 5;

    private async Task CommitOnceAsync(WriteBatch batch, CancellationToken cancellationToken)
    {
        var log = batch.Vectors.Count > 0 && !batch.WithoutBucketLog
            ? BucketLog.Group(batch.Scheme ?? await SchemeAsync(cancellationToken).ConfigureAwait(false), batch.Vectors)
            : null;
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        // Hashed while the cluster learns: the scheme row FOR SHARE (before the lease rows, as the fix locks them), so
        // that the fix waits for this batch, or this batch sees the fix and is refused.
        if (batch.Scheme is { IsLearning: true } hashedWith)
        {
            await using var read = new NpgsqlCommand("SELECT fingerprint FROM cluster_config WHERE id = 1 FOR SHARE", connection, transaction);
            if (await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long stored && unchecked((ulong)stored) != hashedWith.Fingerprint)
            {
                throw new SchemeChangedException(hashedWith.Fingerprint, unchecked((ulong)stored));
            }
        }

        if (batch.Vectors.Count > 0 && batch.WithoutBucketLog)
        {
            // Locks the row only the first time (then no row matches): a rebuild under way is waited for, and redone later.
            await using var stale = new NpgsqlCommand("UPDATE cluster_config SET bucket_log_complete = false WHERE id = 1 AND bucket_log_complete", connection, transaction);
            await stale.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        // FOR SHARE holds the lease rows until commit: a claim (an UPDATE of the epoch) waits for this batch, and a
        // claim that committed first is seen here, so the batch is refused.
        if (batch.Fences.Count > 0)
        {
            var shards = new int[batch.Fences.Count];
            for (var i = 0; i < shards.Length; i++)
            {
                shards[i] = batch.Fences[i].Shard;
            }

            var current = await ReadEpochsAsync(connection, transaction, shards, lockRows: true, cancellationToken).ConfigureAwait(false);
            foreach (var fence in batch.Fences)
            {
                var epoch = current.TryGetValue(fence.Shard, out var e) ? e : throw NoLease(fence.Shard);
                if (epoch != fence.Epoch)
                {
                    throw new StaleEpochException(fence.Shard, fence.Epoch, epoch);
                }
            }
        }

        if (batch.Deletions.Count > 0)
        {
            await DeleteVectorsAsync(connection, transaction, batch.Deletions, cancellationToken).ConfigureAwait(false);
        }

        if (batch.Vectors.Count > 0)
        {
            await CopyVectorsAsync(connection, batch.Vectors, cancellationToken).ConfigureAwait(false);
            if (log is not null)
            {
                await AppendBucketLogAsync(connection, transaction, log, cancellationToken).ConfigureAwait(false);
            }
        }

        if (batch.Edges.Count > 0)
        {
            await WriteEdgesAsync(connection, transaction, batch.Edges, cancellationToken).ConfigureAwait(false);
        }

        if (batch.Events.Count > 0)
        {
            // Last, so that the head's row lock is held only to the commit: positions are handed out in commit order.
            await using var head = new NpgsqlCommand("UPDATE feed_head SET position = position + 1 WHERE id = 1 RETURNING position", connection, transaction);
            var position = (long)(await head.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            await using var feed = new NpgsqlCommand("INSERT INTO feed (position, at, events) VALUES (@position, now(), @events)", connection, transaction);
            feed.Parameters.AddWithValue("position", position);
            feed.Parameters.AddWithValue("events", FeedCodec.Pack(batch.Events));
            await feed.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<FeedBatch>> ReadFeedAsync(long afterPosition, int maxBatches, CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT position, at, events FROM feed WHERE position > @after ORDER BY position LIMIT @limit", connection);
        command.Parameters.AddWithValue("after", afterPosition);
        command.Parameters.AddWithValue("limit", Math.Max(1, maxBatches));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var batches = new List<FeedBatch>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var position = reader.GetInt64(0);
            batches.Add(new FeedBatch(position, reader.GetFieldValue<DateTimeOffset>(1), FeedCodec.Unpack(reader.GetFieldValue<byte[]>(2), position)));
        }

        return batches;
    }

    /// <inheritdoc />
    public async Task<long> FeedStartAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT coalesce((SELECT min(position) FROM feed), (SELECT position + 1 FROM feed_head))", connection);
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <inheritdoc />
    public async Task<long> PruneFeedAsync(DateTimeOffset before, CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("DELETE FROM feed WHERE at < @before", connection);
        command.Parameters.AddWithValue("before", before);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<bool> FixSchemeAsync(LshScheme learning, LshScheme fixedScheme, Func<float[], ulong[]> bucketKeysOf, CancellationToken cancellationToken = default)
    {
        StoreValidation.CheckFix(learning, fixedScheme, bucketKeysOf);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var read = new NpgsqlCommand("SELECT fingerprint FROM cluster_config WHERE id = 1 FOR UPDATE", connection, transaction))
        {
            if (await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not long stored || unchecked((ulong)stored) != learning.Fingerprint)
            {
                _scheme = null; // another silo fixed it: read the winner's when next needed
                return false;
            }
        }

        // Every shard's new epoch: waits for the commits that hold lease rows FOR SHARE, and fences out all that come later.
        await using (var epochs = new NpgsqlCommand("UPDATE shard_leases SET epoch = epoch + 1", connection, transaction))
        {
            await epochs.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using (var clear = new NpgsqlCommand("DELETE FROM bucket_log", connection, transaction))
        {
            await clear.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        // Each stored vector's keys under the fixed scheme, a page at a time: on its row, and in the bucket log.
        var last = long.MinValue;
        while (true)
        {
            var rows = new List<StoredVector>();
            await using (var select = new NpgsqlCommand(
                "SELECT vector_id, vector, sketch_low, sketch_high FROM vectors WHERE vector_id > @last ORDER BY vector_id LIMIT 10000", connection, transaction))
            {
                select.Parameters.AddWithValue("last", last);
                await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    last = reader.GetInt64(0);
                    rows.Add(new StoredVector(last, string.Empty, 0, BlobCodec.ReadFloats(reader.GetFieldValue<byte[]>(1), last), [],
                        unchecked((ulong)reader.GetInt64(2)), unchecked((ulong)reader.GetInt64(3)), default, default));
                }
            }

            if (rows.Count == 0)
            {
                break;
            }

            var page = new StoredVector[rows.Count];
            Parallel.For(0, rows.Count, new ParallelOptions { CancellationToken = cancellationToken }, i => page[i] = rows[i] with { BucketKeys = bucketKeysOf(rows[i].Values) });

            await using (var update = new NpgsqlCommand(
                "UPDATE vectors AS v SET bucket_keys = u.keys FROM unnest(@ids, @keys) AS u(id, keys) WHERE v.vector_id = u.id", connection, transaction))
            {
                update.Parameters.AddWithValue("ids", page.Select(v => v.VectorId).ToArray());
                update.Parameters.AddWithValue("keys", NpgsqlDbType.Array | NpgsqlDbType.Bytea, page.Select(v =>
                {
                    var blob = new byte[v.BucketKeys.Length * sizeof(ulong)];
                    BlobCodec.WriteUInt64s(v.BucketKeys, blob);
                    return blob;
                }).ToArray());
                await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await AppendBucketLogAsync(connection, transaction, BucketLog.Group(fixedScheme, page), cancellationToken).ConfigureAwait(false);
        }

        // The log was rebuilt whole above.
        await using (var write = new NpgsqlCommand("UPDATE cluster_config SET scheme = @scheme, fingerprint = @fingerprint, bucket_log_complete = true WHERE id = 1", connection, transaction))
        {
            write.Parameters.AddWithValue("scheme", NpgsqlDbType.Bytea, fixedScheme.ToBytes());
            write.Parameters.AddWithValue("fingerprint", unchecked((long)fixedScheme.Fingerprint));
            await write.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        _scheme = fixedScheme;
        return true;
    }

    /// <inheritdoc />
    public async Task<long> CountVectorsAsync(CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand("SELECT count(*) FROM vectors");
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <inheritdoc />
    public IAsyncEnumerable<StoredVector> ReadVectorsAsync(CancellationToken cancellationToken = default) =>
        ReadVectorRowsAsync(_dataSource.CreateCommand(SelectVectorsSql), cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<long> ReadVectorIdsAsync(CancellationToken cancellationToken = default) =>
        // No filter on the legacy deleted column (a delete moves the row to deleted_vectors; nothing sets it): with one,
        // PostgreSQL reads every row of the table (2.2 s for a million vectors of d = 256) instead of the primary key
        // alone (0.4 s), and every shard activation group reads these ids.
        ReadIdsAsync("SELECT vector_id FROM vectors ORDER BY vector_id", cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<StoredVector> ReadHomeVectorsAsync(int shard, CancellationToken cancellationToken = default)
    {
        var command = _dataSource.CreateCommand(SelectHomeVectorsSql);
        command.Parameters.AddWithValue("shard", shard);
        return ReadVectorRowsAsync(command, cancellationToken);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<BucketEntry> ReadBucketEntriesAsync(int shard, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await CompleteBucketLogAsync(cancellationToken).ConfigureAwait(false);
        await using var command = _dataSource.CreateCommand("SELECT entries FROM bucket_log WHERE shard = @shard ORDER BY seq");
        command.Parameters.AddWithValue("shard", shard);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            foreach (var entry in BucketLog.Read(reader.GetFieldValue<byte[]>(0), shard))
            {
                yield return entry;
            }
        }
    }

    // Npgsql reads rows from the socket as the reader advances, so the result is streamed, never held whole.
    private static async IAsyncEnumerable<StoredVector> ReadVectorRowsAsync(NpgsqlCommand command, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var owned = command;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        byte[]? scratch = null;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var id = reader.GetInt64(0);
            var values = BlobCodec.ReadFloats(ReadBlob(reader, 3, ref scratch), id);
            var keys = BlobCodec.ReadUInt64s(ReadBlob(reader, 4, ref scratch), id);
            yield return new StoredVector(
                id,
                reader.GetString(1),
                reader.GetInt32(2),
                values,
                keys,
                unchecked((ulong)reader.GetInt64(5)),
                unchecked((ulong)reader.GetInt64(6)),
                new StoredVerdict(reader.GetBoolean(7), reader.GetInt64(8), reader.GetInt64(9), reader.GetFloat(10)),
                reader.GetFieldValue<DateTimeOffset>(11));
        }
    }

    /// <inheritdoc />
    public IAsyncEnumerable<long> ReadDeletedAsync(CancellationToken cancellationToken = default) =>
        ReadIdsAsync("SELECT vector_id FROM deleted_vectors ORDER BY vector_id", cancellationToken);

    private async IAsyncEnumerable<long> ReadIdsAsync(string sql, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return reader.GetInt64(0);
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<VerifiedEdge> ReadEdgesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand("SELECT a, b, cosine FROM edges ORDER BY a, b");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new VerifiedEdge(reader.GetInt64(0), reader.GetInt64(1), reader.GetFloat(2));
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    private async Task<LshScheme> SchemeAsync(CancellationToken cancellationToken) =>
        _scheme ?? await ReadSchemeAsync(cancellationToken).ConfigureAwait(false)
        ?? throw new InvalidOperationException($"{Description} holds no cluster yet; create one first (lshc create)");

    /// <summary>
    /// Rebuilds the bucket log from the vectors' keys if the embedded engine left it behind (migration 0009): the scheme
    /// row FOR UPDATE (commits without the log wait, and mark it again after), the log table EXCLUSIVE (commits with it
    /// wait, and append after), so that every stored vector's entries are in it once.
    /// </summary>
    private async Task CompleteBucketLogAsync(CancellationToken cancellationToken)
    {
        await using (var check = _dataSource.CreateCommand("SELECT bucket_log_complete FROM cluster_config WHERE id = 1"))
        {
            if (await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not false)
            {
                return;
            }
        }

        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var locked = new NpgsqlCommand("SELECT bucket_log_complete FROM cluster_config WHERE id = 1 FOR UPDATE", connection, transaction))
        {
            if (await locked.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not false)
            {
                return; // another load rebuilt it meanwhile
            }
        }

        await using (var rebuild = new NpgsqlCommand("LOCK TABLE bucket_log IN EXCLUSIVE MODE; DELETE FROM bucket_log", connection, transaction))
        {
            await rebuild.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await FillBucketLogAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
        await using (var done = new NpgsqlCommand("UPDATE cluster_config SET bucket_log_complete = true WHERE id = 1", connection, transaction))
        {
            await done.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    // One row per shard: at most S rows a commit, so one statement over two arrays rather than a COPY.
    private static async Task AppendBucketLogAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, List<KeyValuePair<int, byte[]>> rows, CancellationToken cancellationToken)
    {
        await using var insert = new NpgsqlCommand(
            "INSERT INTO bucket_log (shard, entries) SELECT * FROM unnest(@shards, @entries)", connection, transaction);
        insert.Parameters.AddWithValue("shards", rows.Select(r => r.Key).ToArray());
        insert.Parameters.AddWithValue("entries", NpgsqlDbType.Array | NpgsqlDbType.Bytea, rows.Select(r => r.Value).ToArray());
        await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    // Run once, by the migration that adds the log: the entries of the vectors stored before it, a page at a time.
    private static async Task FillBucketLogAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        LshScheme scheme;
        await using (var read = new NpgsqlCommand("SELECT scheme FROM cluster_config WHERE id = 1", connection, transaction))
        {
            if (await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not byte[] bytes)
            {
                return; // no cluster yet, so no vectors
            }

            scheme = LshScheme.FromBytes(bytes);
        }

        var last = long.MinValue;
        while (true)
        {
            var page = new List<StoredVector>();
            await using (var select = new NpgsqlCommand(
                "SELECT vector_id, bucket_keys, sketch_low, sketch_high FROM vectors WHERE NOT deleted AND vector_id > @last ORDER BY vector_id LIMIT 10000",
                connection, transaction))
            {
                select.Parameters.AddWithValue("last", last);
                await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    last = reader.GetInt64(0);
                    page.Add(new StoredVector(last, string.Empty, 0, [], BlobCodec.ReadUInt64s(reader.GetFieldValue<byte[]>(1), last),
                        unchecked((ulong)reader.GetInt64(2)), unchecked((ulong)reader.GetInt64(3)), default, default));
                }
            }

            if (page.Count == 0)
            {
                return;
            }

            await AppendBucketLogAsync(connection, transaction, BucketLog.Group(scheme, page), cancellationToken).ConfigureAwait(false);
        }
    }

    // One statement moves the rows: they leave vectors (values, external id) and their ids are kept as deleted.
    private static async Task DeleteVectorsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<long> ids, CancellationToken cancellationToken)
    {
        await using var delete = new NpgsqlCommand("""
            WITH gone AS (DELETE FROM vectors WHERE vector_id = ANY(@ids) RETURNING vector_id, home_shard)
            INSERT INTO deleted_vectors (vector_id, home_shard) SELECT vector_id, home_shard FROM gone
            ON CONFLICT (vector_id) DO NOTHING
            """, connection, transaction);
        delete.Parameters.AddWithValue("ids", ids.ToArray());
        await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task CopyVectorsAsync(NpgsqlConnection connection, IReadOnlyList<StoredVector> vectors, CancellationToken cancellationToken)
    {
        // The COPY runs inside the connection's open transaction. Disposing the importer without completing it (an
        // exception, a cancellation) cancels the COPY, which aborts the transaction: nothing of the batch remains.
        await using var importer = await connection.BeginBinaryImportAsync(CopyVectorsSql, cancellationToken).ConfigureAwait(false);
        byte[]? vectorBytes = null;
        byte[]? keyBytes = null;
        foreach (var vector in vectors)
        {
            // Npgsql serialises each value into its write buffer during the call, so one exact-size buffer per column
            // serves the whole batch.
            var vectorBuffer = BlobCodec.Exact(ref vectorBytes, vector.Values.Length * sizeof(float));
            BlobCodec.WriteFloats(vector.Values, vectorBuffer);
            var keyBuffer = BlobCodec.Exact(ref keyBytes, vector.BucketKeys.Length * sizeof(ulong));
            BlobCodec.WriteUInt64s(vector.BucketKeys, keyBuffer);

            await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(vector.VectorId, NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(vector.ExternalId, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(vector.HomeShard, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(vectorBuffer, NpgsqlDbType.Bytea, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(keyBuffer, NpgsqlDbType.Bytea, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(unchecked((long)vector.SketchLow), NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(unchecked((long)vector.SketchHigh), NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(vector.Verdict.IsDuplicate, NpgsqlDbType.Boolean, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(vector.Verdict.Canonical, NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(vector.Verdict.BestMatch, NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(vector.Verdict.BestCosine, NpgsqlDbType.Real, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(vector.InsertedAt.ToUniversalTime(), NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
        }

        await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task WriteEdgesAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<VerifiedEdge> edges, CancellationToken cancellationToken)
    {
        // COPY cannot skip rows that already exist, and a replay may write an edge twice: copy into a staging table
        // that disappears at commit, then insert what is new. An edge already stored keeps its first cosine. Two
        // silos may write the same edge at once (near-duplicates in flight on both): inserting in key order makes
        // one wait for the other instead of each waiting for the other's next edge (a deadlock).
        await ExecuteAsync(connection, transaction,
            "CREATE TEMP TABLE edges_incoming (a bigint NOT NULL, b bigint NOT NULL, cosine real NOT NULL) ON COMMIT DROP",
            cancellationToken).ConfigureAwait(false);
        await using (var importer = await connection.BeginBinaryImportAsync(
            "COPY edges_incoming (a, b, cosine) FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false))
        {
            foreach (var edge in edges)
            {
                await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(edge.A, NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(edge.B, NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(edge.Cosine, NpgsqlDbType.Real, cancellationToken).ConfigureAwait(false);
            }

            await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }

        await ExecuteAsync(connection, transaction,
            "INSERT INTO edges (a, b, cosine) SELECT a, b, cosine FROM edges_incoming ORDER BY a, b ON CONFLICT (a, b) DO NOTHING",
            cancellationToken).ConfigureAwait(false);
    }

    private static async Task<Dictionary<int, long>> ReadEpochsAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, int[] shards, bool lockRows, CancellationToken cancellationToken)
    {
        var sql = lockRows
            ? "SELECT shard, epoch FROM shard_leases WHERE shard = ANY(@shards) ORDER BY shard FOR SHARE" // locks in one order
            : "SELECT shard, epoch FROM shard_leases WHERE shard = ANY(@shards)";
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        command.Parameters.AddWithValue("shards", shards);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var epochs = new Dictionary<int, long>(shards.Length);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            epochs[reader.GetInt32(0)] = reader.GetInt64(1);
        }

        return epochs;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static ReadOnlySpan<byte> ReadBlob(NpgsqlDataReader reader, int ordinal, ref byte[]? scratch)
    {
        var length = checked((int)reader.GetBytes(ordinal, 0, null, 0, 0));
        var buffer = BlobCodec.Exact(ref scratch, length);
        reader.GetBytes(ordinal, 0, buffer, 0, length);
        return buffer;
    }

    private static InvalidOperationException NoLease(int shard) =>
        new($"shard {shard} has no lease row: the store holds no cluster yet, or the shard is outside 0 … S-1");

    private static string Describe(NpgsqlConnectionStringBuilder builder) =>
        $"postgres:Host={builder.Host};Port={builder.Port};Database={builder.Database ?? builder.Username};Username={builder.Username}";
}
