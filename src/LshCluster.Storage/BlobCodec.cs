using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace LshCluster.Storage;

/// <summary>
/// The stored forms of a vector (float32 little-endian) and of its bucket keys (uint64 little-endian). On a
/// little-endian machine — every machine we run on — both are plain memory copies; the byte-swapping loops keep
/// the format the same on the others.
/// </summary>
internal static class BlobCodec
{
    /// <summary>Writes <paramref name="values"/> into the first 4 × n bytes of <paramref name="destination"/>.</summary>
    public static void WriteFloats(ReadOnlySpan<float> values, Span<byte> destination)
    {
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(values).CopyTo(destination);
            return;
        }

        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(destination[(4 * i)..], values[i]);
        }
    }

    /// <summary>Writes <paramref name="keys"/> into the first 8 × n bytes of <paramref name="destination"/>.</summary>
    public static void WriteUInt64s(ReadOnlySpan<ulong> keys, Span<byte> destination)
    {
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(keys).CopyTo(destination);
            return;
        }

        for (var i = 0; i < keys.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(destination[(8 * i)..], keys[i]);
        }
    }

    /// <summary>Decodes a stored vector.</summary>
    /// <exception cref="InvalidDataException">The length is not a multiple of 4.</exception>
    public static float[] ReadFloats(ReadOnlySpan<byte> source, long vectorId)
    {
        if (source.Length % sizeof(float) != 0)
        {
            throw new InvalidDataException($"vector {vectorId}: the stored vector has {source.Length} bytes, not a multiple of 4");
        }

        var values = new float[source.Length / sizeof(float)];
        if (BitConverter.IsLittleEndian)
        {
            source.CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
        }
        else
        {
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = BinaryPrimitives.ReadSingleLittleEndian(source[(4 * i)..]);
            }
        }

        return values;
    }

    /// <summary>Decodes stored bucket keys.</summary>
    /// <exception cref="InvalidDataException">The length is not a multiple of 8.</exception>
    public static ulong[] ReadUInt64s(ReadOnlySpan<byte> source, long vectorId)
    {
        if (source.Length % sizeof(ulong) != 0)
        {
            throw new InvalidDataException($"vector {vectorId}: the stored bucket keys have {source.Length} bytes, not a multiple of 8");
        }

        var keys = new ulong[source.Length / sizeof(ulong)];
        if (BitConverter.IsLittleEndian)
        {
            source.CopyTo(MemoryMarshal.AsBytes(keys.AsSpan()));
        }
        else
        {
            for (var i = 0; i < keys.Length; i++)
            {
                keys[i] = BinaryPrimitives.ReadUInt64LittleEndian(source[(8 * i)..]);
            }
        }

        return keys;
    }

    /// <summary>
    /// A buffer of exactly <paramref name="length"/> bytes, reusing <paramref name="buffer"/> when it already has that
    /// length (every vector of a cluster has the same size, so a batch allocates once). Exact, because drivers bind a
    /// <c>byte[]</c> whole.
    /// </summary>
    public static byte[] Exact(ref byte[]? buffer, int length)
    {
        if (buffer is null || buffer.Length != length)
        {
            buffer = new byte[length];
        }

        return buffer;
    }
}
