using System.Buffers.Binary;
using LshCluster.Core.Hashing;

namespace LshCluster.Storage;

/// <summary>One member of a bucket as the bucket's shard loads it.</summary>
/// <param name="Key">The bucket key (the table is mixed into it).</param>
/// <param name="VectorId">The member.</param>
/// <param name="SketchLow">The low 64 bits of the member's sketch.</param>
/// <param name="SketchHigh">The high 64 bits of the member's sketch.</param>
public readonly record struct BucketEntry(ulong Key, long VectorId, ulong SketchLow, ulong SketchHigh);

/// <summary>
/// The per-shard bucket log (DESIGN.md section 5, ADR 0006): each commit appends, for every shard whose buckets its
/// vectors join, one row holding those entries packed — 32 bytes each, key, vector id and sketch as little-endian
/// 64-bit values — so that a shard loads its buckets from its own rows instead of from every vector of the store.
/// </summary>
public static class BucketLog
{
    /// <summary>The size of one packed entry.</summary>
    public const int EntrySize = 32;

    /// <summary>The entries of <paramref name="vectors"/> by the shard that holds each bucket, packed, in shard order.</summary>
    public static List<KeyValuePair<int, byte[]>> Group(LshScheme scheme, IReadOnlyList<StoredVector> vectors)
    {
        ArgumentNullException.ThrowIfNull(scheme);
        ArgumentNullException.ThrowIfNull(vectors);

        // Each entry's shard once, counted, so that each shard's row is one array written once.
        var shards = new int[vectors.Sum(v => v.BucketKeys.Length)];
        var counts = new int[scheme.ShardCount];
        var e = 0;
        foreach (var v in vectors)
        {
            for (var t = 0; t < v.BucketKeys.Length; t++)
            {
                counts[shards[e++] = scheme.ShardOfBucket(t, v.BucketKeys[t])]++;
            }
        }

        var rows = new byte[]?[scheme.ShardCount];
        var filled = new int[scheme.ShardCount];
        e = 0;
        foreach (var v in vectors)
        {
            for (var t = 0; t < v.BucketKeys.Length; t++)
            {
                var shard = shards[e++];
                var row = rows[shard] ??= new byte[counts[shard] * EntrySize];
                var at = row.AsSpan(filled[shard]++ * EntrySize, EntrySize);
                BinaryPrimitives.WriteUInt64LittleEndian(at, v.BucketKeys[t]);
                BinaryPrimitives.WriteInt64LittleEndian(at[8..], v.VectorId);
                BinaryPrimitives.WriteUInt64LittleEndian(at[16..], v.SketchLow);
                BinaryPrimitives.WriteUInt64LittleEndian(at[24..], v.SketchHigh);
            }
        }

        var grouped = new List<KeyValuePair<int, byte[]>>();
        for (var shard = 0; shard < rows.Length; shard++)
        {
            if (rows[shard] is { } row)
            {
                grouped.Add(new(shard, row));
            }
        }

        return grouped;
    }

    /// <summary>The entries packed in one log row.</summary>
    /// <exception cref="InvalidDataException">The row is not a whole number of entries.</exception>
    public static BucketEntry[] Read(ReadOnlySpan<byte> row, int shard)
    {
        if (row.Length % EntrySize != 0)
        {
            throw new InvalidDataException($"bucket_log: a row of shard {shard} holds {row.Length} bytes, not a whole number of {EntrySize}-byte entries");
        }

        var entries = new BucketEntry[row.Length / EntrySize];
        for (var i = 0; i < entries.Length; i++)
        {
            var at = row.Slice(i * EntrySize, EntrySize);
            entries[i] = new BucketEntry(
                BinaryPrimitives.ReadUInt64LittleEndian(at),
                BinaryPrimitives.ReadInt64LittleEndian(at[8..]),
                BinaryPrimitives.ReadUInt64LittleEndian(at[16..]),
                BinaryPrimitives.ReadUInt64LittleEndian(at[24..]));
        }

        return entries;
    }
}
