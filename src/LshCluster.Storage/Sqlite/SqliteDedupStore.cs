using System.Globalization;
using System.Runtime.CompilerServices;
using LshCluster.Core.Hashing;
using LshCluster.Core.Ids;
using LshCluster.Storage.Migrations;
using Microsoft.Data.Sqlite;

namespace LshCluster.Storage.Sqlite;

/// <summary>
/// The embedded store: one SQLite file in WAL mode with <c>synchronous = FULL</c>, so that a commit that returned
/// survives a power cut (with <c>NORMAL</c>, WAL mode may lose the last commits, which would break "nothing
/// acknowledged is lost"; one fsync per group commit of thousands of vectors costs little).
/// </summary>
/// <remarks>
/// All writes go through one connection, one at a time (SQLite has one writer anyway), each in a
/// <c>BEGIN IMMEDIATE</c> transaction so that the fence check and the writes see the same state. The vector insert is
/// one prepared statement whose parameters are rebound per row straight from the vectors' memory
/// (<see cref="SqliteVectorInsert"/>). Reads use their own connections and, thanks to WAL,
/// neither block nor are blocked by the writer. SQLite's API is synchronous: the asynchronous methods do their work on
/// the calling thread. Safe to call from several threads.
/// </remarks>
public sealed class SqliteDedupStore : IDedupStore
{
    private const string InsertEdgeSql = "INSERT INTO edges (a, b, cosine) VALUES ($a, $b, $cosine) ON CONFLICT (a, b) DO NOTHING";

    private const string SelectEpochSql = "SELECT epoch FROM shard_leases WHERE shard = $shard";

    private const string SelectVectorsSql = """
        SELECT vector_id, external_id, home_shard, vector, bucket_keys, sketch_low, sketch_high,
               is_duplicate, canonical, best_match, best_cosine, inserted_at
        FROM vectors WHERE deleted = 0 ORDER BY vector_id
        """;

    // Moves one row: its id is kept as deleted, then the row (values, external id) goes.
    private const string DeleteVectorSql = """
        INSERT OR IGNORE INTO deleted_vectors (vector_id, home_shard, deleted_at) SELECT vector_id, home_shard, $now FROM vectors WHERE vector_id = $id;
        DELETE FROM vectors WHERE vector_id = $id;
        """;

    private const string SelectHomeVectorsSql = """
        SELECT vector_id, external_id, home_shard, vector, bucket_keys, sketch_low, sketch_high,
               is_duplicate, canonical, best_match, best_cosine, inserted_at
        FROM vectors WHERE deleted = 0 AND home_shard = @shard ORDER BY vector_id
        """;

    private readonly string _connectionString;
    private readonly TimeProvider _timeProvider;
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    // Owned by whoever holds _writeLock; created on first write and kept for the store's lifetime so that the
    // prepared statements are compiled once.
    private SqliteConnection? _writer;
    private SqliteVectorInsert? _insertVector;
    private SqliteCommand? _insertEdge;
    private SqliteCommand? _deleteVector;
    private SqliteCommand? _selectEpoch;

    // The cluster's scheme once read or created: the bucket log needs it to know which shard holds a bucket.
    private volatile LshScheme? _scheme;
    private bool _disposed;

    /// <summary>Creates a store over the SQLite file <paramref name="path"/>.</summary>
    /// <param name="path">The database file, created on first use; its directory is created here when missing.</param>
    /// <param name="timeProvider">The clock for creation and migration times; the system clock when null.</param>
    /// <exception cref="ArgumentException">The path is empty or names an in-memory database (each connection would
    /// see a different one).</exception>
    public SqliteDedupStore(string path, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (path.Trim() == ":memory:" || path.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"'{path}' is not a file path: the SQLite store needs a file (an in-memory database or URI is not supported)", nameof(path));
        }

        FilePath = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(FilePath);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        _timeProvider = timeProvider ?? TimeProvider.System;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = FilePath,
            Mode = SqliteOpenMode.ReadWriteCreate,

            // Each connection is opened with its PRAGMAs below; pooling would hand back connections whose settings
            // and open transactions are not ours to reason about, and the writer stays open anyway.
            Pooling = false,
        }.ToString();
    }

    /// <summary>The full path of the database file.</summary>
    public string FilePath { get; }

    /// <inheritdoc />
    public string Description => $"sqlite:{FilePath}";

    /// <inheritdoc />
    public Task MigrateAsync(CancellationToken cancellationToken = default) => WriteAsync((connection, transaction) =>
    {
        Execute(connection, transaction, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT");
        var current = Convert.ToInt32(Scalar(connection, transaction, "SELECT coalesce(max(version), 0) FROM schema_migrations"), CultureInfo.InvariantCulture);
        var migrations = MigrationScripts.Load(MigrationScripts.Sqlite);
        if (current > migrations.Count)
        {
            throw new InvalidOperationException(
                $"the database {FilePath} is at schema version {current}, newer than this build knows ({migrations.Count}): use a newer lshc");
        }

        foreach (var migration in migrations.Skip(current))
        {
            cancellationToken.ThrowIfCancellationRequested();
            Execute(connection, transaction, migration.Sql);
            using var record = Command(connection, transaction, "INSERT INTO schema_migrations (version, applied_at) VALUES ($version, $applied_at)");
            record.Parameters.AddWithValue("$version", migration.Version);
            record.Parameters.AddWithValue("$applied_at", _timeProvider.GetUtcNow().ToUnixTimeMilliseconds());
            record.ExecuteNonQuery();
        }

        return true;
    }, cancellationToken);

    /// <inheritdoc />
    public async Task<LshScheme?> ReadSchemeAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(writer: false, cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null, "SELECT scheme, fingerprint FROM cluster_config WHERE id = 1");
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
    public Task CreateClusterAsync(LshScheme scheme, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scheme);
        return WriteAsync((connection, transaction) =>
        {
            if (Scalar(connection, transaction, "SELECT fingerprint FROM cluster_config WHERE id = 1") is long existing)
            {
                throw new InvalidOperationException(
                    $"{Description} already holds a cluster (scheme fingerprint {unchecked((ulong)existing):x16}); a store keeps one cluster");
            }

            using (var insert = Command(connection, transaction,
                "INSERT INTO cluster_config (id, scheme, fingerprint, created_at) VALUES (1, $scheme, $fingerprint, $created_at)"))
            {
                insert.Parameters.AddWithValue("$scheme", scheme.ToBytes());
                insert.Parameters.AddWithValue("$fingerprint", unchecked((long)scheme.Fingerprint));
                insert.Parameters.AddWithValue("$created_at", _timeProvider.GetUtcNow().ToUnixTimeMilliseconds());
                insert.ExecuteNonQuery();
            }

            using var leases = Command(connection, transaction, """
                WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n + 1 < $count)
                INSERT INTO shard_leases (shard, owner, epoch, lease_expires) SELECT n, NULL, 0, NULL FROM s
                """);
            leases.Parameters.AddWithValue("$count", scheme.ShardCount);
            leases.ExecuteNonQuery();
            _scheme = scheme;
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<bool> FixSchemeAsync(LshScheme learning, LshScheme fixedScheme, Func<float[], ulong[]> bucketKeysOf, CancellationToken cancellationToken = default)
    {
        StoreValidation.CheckFix(learning, fixedScheme, bucketKeysOf);
        var fixedIt = await WriteAsync((connection, transaction) =>
        {
            // BEGIN IMMEDIATE: no commit runs beside this; those queued behind it meet the new epochs.
            if (Scalar(connection, transaction, "SELECT fingerprint FROM cluster_config WHERE id = 1") is not long stored
                || unchecked((ulong)stored) != learning.Fingerprint)
            {
                return false;
            }

            Execute(connection, transaction, "UPDATE shard_leases SET epoch = epoch + 1");
            var rows = new List<(long Id, float[] Values)>();
            using (var select = Command(connection, transaction, "SELECT vector_id, vector FROM vectors"))
            using (var reader = select.ExecuteReader())
            {
                while (reader.Read())
                {
                    var id = reader.GetInt64(0);
                    rows.Add((id, BlobCodec.ReadFloats(reader.GetFieldValue<byte[]>(1), id)));
                }
            }

            var blobs = new byte[rows.Count][];
            Parallel.For(0, rows.Count, new ParallelOptions { CancellationToken = cancellationToken }, i =>
            {
                var keys = bucketKeysOf(rows[i].Values);
                BlobCodec.WriteUInt64s(keys, blobs[i] = new byte[keys.Length * sizeof(ulong)]);
            });
            using (var update = Command(connection, transaction, "UPDATE vectors SET bucket_keys = $keys WHERE vector_id = $id"))
            {
                var id = update.Parameters.Add("$id", SqliteType.Integer);
                var keys = update.Parameters.Add("$keys", SqliteType.Blob);
                for (var i = 0; i < rows.Count; i++)
                {
                    (id.Value, keys.Value) = (rows[i].Id, blobs[i]);
                    update.ExecuteNonQuery();
                }
            }

            using (var scheme = Command(connection, transaction, "UPDATE cluster_config SET scheme = $scheme, fingerprint = $fingerprint WHERE id = 1"))
            {
                scheme.Parameters.AddWithValue("$scheme", fixedScheme.ToBytes());
                scheme.Parameters.AddWithValue("$fingerprint", unchecked((long)fixedScheme.Fingerprint));
                scheme.ExecuteNonQuery();
            }

            return true;
        }, cancellationToken).ConfigureAwait(false);
        _scheme = fixedIt ? fixedScheme : null; // lost the race: read the winner's when next needed
        return fixedIt;
    }

    /// <inheritdoc />
    public async Task<long> CountVectorsAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(writer: false, cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null, "SELECT count(*) FROM vectors");
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <inheritdoc />
    public Task<long[]> ClaimShardsAsync(string owner, IReadOnlyList<int> shards, CancellationToken cancellationToken = default)
    {
        StoreValidation.CheckClaim(owner, shards);
        return WriteAsync((connection, transaction) =>
        {
            using var update = Command(connection, transaction,
                "UPDATE shard_leases SET epoch = epoch + 1, owner = $owner WHERE shard = $shard AND epoch = $epoch");
            var ownerParameter = update.Parameters.AddWithValue("$owner", owner);
            var shardParameter = update.Parameters.Add("$shard", SqliteType.Integer);
            var epochParameter = update.Parameters.Add("$epoch", SqliteType.Integer);
            var epochs = new long[shards.Count];
            for (var i = 0; i < shards.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var shard = shards[i];
                var read = ReadEpoch(connection, transaction, shard) ?? throw NoLease(shard);
                shardParameter.Value = shard;
                epochParameter.Value = read;

                // BEGIN IMMEDIATE already excludes other writers, so the compare-and-set cannot fail here; it is kept
                // so that the statement means the same as PostgreSQL's.
                if (update.ExecuteNonQuery() != 1)
                {
                    throw new StaleEpochException(shard, read, ReadEpoch(connection, transaction, shard) ?? read);
                }

                epochs[i] = read + 1;
            }

            return epochs;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task RecordGhostsAsync(IReadOnlyList<long> vectorIds, IReadOnlyList<VerifiedEdge> edges, CancellationToken cancellationToken = default) =>
        WriteAsync((connection, transaction) =>
        {
            using var insert = Command(connection, transaction, """
                INSERT OR IGNORE INTO deleted_vectors (vector_id, home_shard, deleted_at)
                SELECT $id, $shard, $now WHERE NOT EXISTS (SELECT 1 FROM vectors WHERE vector_id = $id)
                """);
            var id = insert.Parameters.Add("$id", SqliteType.Integer);
            var shard = insert.Parameters.Add("$shard", SqliteType.Integer);
            insert.Parameters.AddWithValue("$now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            foreach (var v in vectorIds)
            {
                (id.Value, shard.Value) = (v, VectorId.HomeShard(v));
                insert.ExecuteNonQuery();
            }

            using var edge = Command(connection, transaction, InsertEdgeSql);
            var a = edge.Parameters.Add("$a", SqliteType.Integer);
            var b = edge.Parameters.Add("$b", SqliteType.Integer);
            var cosine = edge.Parameters.Add("$cosine", SqliteType.Real);
            foreach (var e in edges)
            {
                (a.Value, b.Value, cosine.Value) = (e.A, e.B, e.Cosine);
                edge.ExecuteNonQuery();
            }

            return true;
        }, cancellationToken);

    /// <inheritdoc />
    public async Task CommitAsync(WriteBatch batch, CancellationToken cancellationToken = default)
    {
        StoreValidation.CheckBatch(batch);
        await WriteAsync((connection, transaction) =>
        {
            Commit(connection, transaction, batch, cancellationToken);
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public IAsyncEnumerable<StoredVector> ReadVectorsAsync(CancellationToken cancellationToken = default) =>
        ReadVectorRowsAsync(SelectVectorsSql, null, 0, cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<long> ReadVectorIdsAsync(CancellationToken cancellationToken = default) =>
        ReadIdsAsync("SELECT vector_id FROM vectors ORDER BY vector_id", cancellationToken); // deleted rows leave the table

    /// <inheritdoc />
    public IAsyncEnumerable<StoredVector> ReadHomeVectorsAsync(int shard, CancellationToken cancellationToken = default) =>
        ReadVectorRowsAsync(SelectHomeVectorsSql, "@shard", shard, cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// From every vector's bucket keys (migration 0004: this store keeps no log, as one process loads all its shards
    /// at once), so in id order and without deleted vectors; a scan of the store, for the rare load of one shard alone.
    /// </remarks>
    public async IAsyncEnumerable<BucketEntry> ReadBucketEntriesAsync(int shard, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var scheme = await SchemeAsync(cancellationToken).ConfigureAwait(false);
        await using var connection = await OpenAsync(writer: false, cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null, "SELECT vector_id, bucket_keys, sketch_low, sketch_high FROM vectors ORDER BY vector_id");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var id = reader.GetInt64(0);
            var keys = BlobCodec.ReadUInt64s(reader.GetFieldValue<byte[]>(1), id);
            for (var t = 0; t < keys.Length; t++)
            {
                if (scheme.ShardOfBucket(t, keys[t]) == shard)
                {
                    yield return new BucketEntry(keys[t], id, unchecked((ulong)reader.GetInt64(2)), unchecked((ulong)reader.GetInt64(3)));
                }
            }
        }
    }

    private async IAsyncEnumerable<StoredVector> ReadVectorRowsAsync(string sql, string? parameter, long value, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(writer: false, cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null, sql);
        if (parameter is not null)
        {
            command.Parameters.AddWithValue(parameter, value);
        }

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
                new StoredVerdict(
                    reader.GetInt64(7) != 0,
                    reader.GetInt64(8),
                    reader.GetInt64(9),
                    reader.IsDBNull(10) ? float.NaN : (float)reader.GetDouble(10)),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(11)));
        }
    }

    /// <inheritdoc />
    public IAsyncEnumerable<long> ReadDeletedAsync(CancellationToken cancellationToken = default) =>
        ReadIdsAsync("SELECT vector_id FROM deleted_vectors ORDER BY vector_id", cancellationToken);

    private async IAsyncEnumerable<long> ReadIdsAsync(string sql, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(writer: false, cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null, sql);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return reader.GetInt64(0);
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<VerifiedEdge> ReadEdgesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(writer: false, cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null, "SELECT a, b, cosine FROM edges ORDER BY a, b");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new VerifiedEdge(reader.GetInt64(0), reader.GetInt64(1), (float)reader.GetDouble(2));
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _insertVector?.Dispose();
            _insertEdge?.Dispose();
            _deleteVector?.Dispose();
            _selectEpoch?.Dispose();
            if (_writer is not null)
            {
                await _writer.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private void Commit(SqliteConnection connection, SqliteTransaction transaction, WriteBatch batch, CancellationToken cancellationToken)
    {
        if (batch.Scheme is { IsLearning: true } hashedWith
            && Scalar(connection, transaction, "SELECT fingerprint FROM cluster_config WHERE id = 1") is long stored && unchecked((ulong)stored) != hashedWith.Fingerprint)
        {
            throw new SchemeChangedException(hashedWith.Fingerprint, unchecked((ulong)stored));
        }

        foreach (var fence in batch.Fences)
        {
            var current = ReadEpoch(connection, transaction, fence.Shard) ?? throw NoLease(fence.Shard);
            if (current != fence.Epoch)
            {
                throw new StaleEpochException(fence.Shard, fence.Epoch, current);
            }
        }

        foreach (var id in batch.Deletions)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var move = _deleteVector ??= Prepare(connection, DeleteVectorSql, ("$id", SqliteType.Integer), ("$now", SqliteType.Integer));
            move.Transaction = transaction;
            move.Parameters[0].Value = id;
            move.Parameters[1].Value = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
            move.ExecuteNonQuery();
        }

        if (batch.Vectors.Count > 0)
        {
            var insert = _insertVector ??= new SqliteVectorInsert(connection);
            foreach (var vector in batch.Vectors)
            {
                cancellationToken.ThrowIfCancellationRequested();
                insert.Execute(vector);
            }

        }

        if (batch.Edges.Count > 0)
        {
            var insert = _insertEdge ??= Prepare(connection, InsertEdgeSql, ("$a", SqliteType.Integer), ("$b", SqliteType.Integer), ("$cosine", SqliteType.Real));
            insert.Transaction = transaction;
            var p = insert.Parameters;
            foreach (var edge in batch.Edges)
            {
                cancellationToken.ThrowIfCancellationRequested();
                p[0].Value = edge.A;
                p[1].Value = edge.B;
                p[2].Value = (double)edge.Cosine;
                insert.ExecuteNonQuery();
            }
        }

        if (batch.Events.Count > 0)
        {
            // The next position (one writer: commit order is write order), and the commit's events in one row.
            using var head = Command(connection, transaction, "UPDATE feed_head SET position = position + 1 WHERE id = 1 RETURNING position");
            var position = (long)head.ExecuteScalar()!;
            using var feed = Command(connection, transaction, "INSERT INTO feed (position, at, events) VALUES ($position, $at, $events)");
            feed.Parameters.AddWithValue("$position", position);
            feed.Parameters.AddWithValue("$at", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            feed.Parameters.AddWithValue("$events", FeedCodec.Pack(batch.Events));
            feed.ExecuteNonQuery();
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<FeedBatch>> ReadFeedAsync(long afterPosition, int maxBatches, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(writer: false, cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null, "SELECT position, at, events FROM feed WHERE position > $after ORDER BY position LIMIT $limit");
        command.Parameters.AddWithValue("$after", afterPosition);
        command.Parameters.AddWithValue("$limit", Math.Max(1, maxBatches));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var batches = new List<FeedBatch>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var position = reader.GetInt64(0);
            batches.Add(new FeedBatch(position, DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)), FeedCodec.Unpack(reader.GetFieldValue<byte[]>(2), position)));
        }

        return batches;
    }

    /// <inheritdoc />
    public async Task<long> FeedStartAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(writer: false, cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null, "SELECT coalesce((SELECT min(position) FROM feed), (SELECT position + 1 FROM feed_head))");
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <inheritdoc />
    public Task<long> PruneFeedAsync(DateTimeOffset before, CancellationToken cancellationToken = default) =>
        WriteAsync((connection, transaction) =>
        {
            using var prune = Command(connection, transaction, "DELETE FROM feed WHERE at < $before");
            prune.Parameters.AddWithValue("$before", before.ToUnixTimeMilliseconds());
            return (long)prune.ExecuteNonQuery();
        }, cancellationToken);

    private async Task<LshScheme> SchemeAsync(CancellationToken cancellationToken) =>
        _scheme ?? await ReadSchemeAsync(cancellationToken).ConfigureAwait(false)
        ?? throw new InvalidOperationException($"{Description} holds no cluster yet; create one first (lshc create)");

    private long? ReadEpoch(SqliteConnection connection, SqliteTransaction transaction, int shard)
    {
        var select = _selectEpoch ??= Prepare(connection, SelectEpochSql, ("$shard", SqliteType.Integer));
        select.Transaction = transaction;
        select.Parameters[0].Value = shard;
        return select.ExecuteScalar() is long epoch ? epoch : null;
    }

    private static InvalidOperationException NoLease(int shard) =>
        new($"shard {shard} has no lease row: the store holds no cluster yet, or the shard is outside 0 … S-1");

    private static SqliteCommand Prepare(SqliteConnection connection, string sql, params ReadOnlySpan<(string Name, SqliteType Type)> parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, type) in parameters)
        {
            command.Parameters.Add(name, type);
        }

        return command;
    }

    /// <summary>
    /// Runs <paramref name="work"/> in a <c>BEGIN IMMEDIATE</c> transaction on the writer connection, one caller at a
    /// time; commits when it returns, rolls back when it throws.
    /// </summary>
    private async Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, T> work, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _writer ??= await OpenAsync(writer: true, cancellationToken).ConfigureAwait(false);
            using var transaction = _writer.BeginTransaction(deferred: false);
            var result = work(_writer, transaction);
            transaction.Commit();
            return result;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task<SqliteConnection> OpenAsync(bool writer, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);

            // WAL lets readers run beside the writer; FULL makes each commit durable (see the class remarks). The
            // busy timeout makes a second process wait for the write lock instead of failing at once.
            Execute(connection, null, writer
                ? "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 30000; PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY"
                : "PRAGMA busy_timeout = 30000");
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static ReadOnlySpan<byte> ReadBlob(SqliteDataReader reader, int ordinal, ref byte[]? scratch)
    {
        var length = checked((int)reader.GetBytes(ordinal, 0, null, 0, 0));
        var buffer = BlobCodec.Exact(ref scratch, length);
        reader.GetBytes(ordinal, 0, buffer, 0, length);
        return buffer;
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using var command = Command(connection, transaction, sql);
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        using var command = Command(connection, transaction, sql);
        return command.ExecuteScalar();
    }
}
