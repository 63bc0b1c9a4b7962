using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace LshCluster.Storage.Sqlite;

/// <summary>
/// The hot statement of the embedded store: one prepared <c>INSERT INTO vectors</c>, bound straight from each
/// vector's memory and reset for the next row, for the lifetime of the writer connection. It runs inside whatever
/// transaction the connection has open.
/// </summary>
/// <remarks>
/// This goes one level below Microsoft.Data.Sqlite on purpose: its <c>ExecuteNonQuery</c> creates a data reader per
/// call, looks every parameter up by name and binds blobs only from whole <c>byte[]</c>s, which per row of a
/// 5,000-vector batch is overhead on the one path that decides the embedded engine's throughput. SQLite copies every
/// bound value (<c>SQLITE_TRANSIENT</c>), so the spans need to live only until the bind returns.
/// </remarks>
internal sealed class SqliteVectorInsert : IDisposable
{
    private const string Sql = """
        INSERT INTO vectors (vector_id, external_id, home_shard, vector, bucket_keys, sketch_low, sketch_high,
                             is_duplicate, canonical, best_match, best_cosine, inserted_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
        """;

    private readonly sqlite3 _database;
    private readonly sqlite3_stmt _statement;
    private byte[] _utf8 = new byte[256];
    private byte[]? _vectorBytes;
    private byte[]? _keyBytes;

    /// <summary>Prepares the statement on <paramref name="connection"/>, which must be open.</summary>
    public SqliteVectorInsert(SqliteConnection connection)
    {
        _database = connection.Handle ?? throw new InvalidOperationException("the SQLite connection is not open");
        var rc = raw.sqlite3_prepare_v3(_database, Sql, raw.SQLITE_PREPARE_PERSISTENT, out _statement);
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, _database);
        }
    }

    /// <summary>Inserts one row.</summary>
    /// <exception cref="SqliteException">SQLite refused the row (e.g. a repeated id or external id).</exception>
    public void Execute(StoredVector vector)
    {
        try
        {
            Check(raw.sqlite3_bind_int64(_statement, 1, vector.VectorId));
            Check(raw.sqlite3_bind_text(_statement, 2, Utf8(vector.ExternalId)));
            Check(raw.sqlite3_bind_int64(_statement, 3, vector.HomeShard));
            Check(BindBlob(4, Floats(vector.Values)));
            Check(BindBlob(5, Keys(vector.BucketKeys)));
            Check(raw.sqlite3_bind_int64(_statement, 6, unchecked((long)vector.SketchLow)));
            Check(raw.sqlite3_bind_int64(_statement, 7, unchecked((long)vector.SketchHigh)));
            Check(raw.sqlite3_bind_int64(_statement, 8, vector.Verdict.IsDuplicate ? 1 : 0));
            Check(raw.sqlite3_bind_int64(_statement, 9, vector.Verdict.Canonical));
            Check(raw.sqlite3_bind_int64(_statement, 10, vector.Verdict.BestMatch));

            // SQLite turns a bound NaN into NULL anyway; binding NULL says so (the column reads NULL back as NaN).
            Check(float.IsNaN(vector.Verdict.BestCosine)
                ? raw.sqlite3_bind_null(_statement, 11)
                : raw.sqlite3_bind_double(_statement, 11, vector.Verdict.BestCosine));
            Check(raw.sqlite3_bind_int64(_statement, 12, vector.InsertedAt.ToUnixTimeMilliseconds()));

            var rc = raw.sqlite3_step(_statement);
            if (rc != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(rc, _database);
            }
        }
        finally
        {
            // Reset after the error message was read: a reset statement reports no error of its own.
            raw.sqlite3_reset(_statement);
        }
    }

    /// <summary>Finalizes the statement; must happen before the connection closes.</summary>
    public void Dispose() => _statement.Dispose();

    private int BindBlob(int index, ReadOnlySpan<byte> bytes) =>
        bytes.IsEmpty ? raw.sqlite3_bind_zeroblob(_statement, index, 0) : raw.sqlite3_bind_blob(_statement, index, bytes);

    private ReadOnlySpan<byte> Floats(float[] values)
    {
        if (BitConverter.IsLittleEndian)
        {
            return MemoryMarshal.AsBytes(values.AsSpan());
        }

        var buffer = BlobCodec.Exact(ref _vectorBytes, values.Length * sizeof(float));
        BlobCodec.WriteFloats(values, buffer);
        return buffer;
    }

    private ReadOnlySpan<byte> Keys(ulong[] keys)
    {
        if (BitConverter.IsLittleEndian)
        {
            return MemoryMarshal.AsBytes(keys.AsSpan());
        }

        var buffer = BlobCodec.Exact(ref _keyBytes, keys.Length * sizeof(ulong));
        BlobCodec.WriteUInt64s(keys, buffer);
        return buffer;
    }

    private ReadOnlySpan<byte> Utf8(string text)
    {
        var max = Encoding.UTF8.GetMaxByteCount(text.Length);
        if (_utf8.Length < max)
        {
            _utf8 = new byte[max];
        }

        return _utf8.AsSpan(0, Encoding.UTF8.GetBytes(text, _utf8));
    }

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, _database);
        }
    }
}
