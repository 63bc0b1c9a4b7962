using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Google.Protobuf;
using LshCluster.Core.Vectors;

namespace LshCluster.Protocol;

/// <summary>
/// Arrays of fixed-size numbers carried in the internal protocol's <c>bytes</c> fields, little-endian and back to
/// back (<see cref="NumberBytes"/> views arrays as such bytes). Google.Protobuf parses a packed <c>repeated float</c> one element at a time into a growing list; a vector of
/// 784 floats cost more to parse than to compare. These are one copy each way.
/// </summary>
public static class PackedArrays
{
    /// <summary>A new array of <paramref name="count"/> elements, written through <see cref="PackedWriter{T}.Span"/>.</summary>
    public static PackedWriter<T> Writer<T>(int count)
        where T : unmanaged => new(count);

    /// <summary>The elements copied into a byte string.</summary>
    public static ByteString From<T>(ReadOnlySpan<T> values)
        where T : unmanaged
    {
        RequireLittleEndian();
        return ByteString.CopyFrom(MemoryMarshal.AsBytes(values));
    }

    /// <summary>The elements of a byte string, without a copy; valid while the message lives.</summary>
    /// <exception cref="InvalidDataException">The length is not a whole number of elements; the message names <paramref name="field"/>.</exception>
    public static ReadOnlySpan<T> View<T>(ByteString bytes, string field)
        where T : unmanaged
    {
        RequireLittleEndian();
        if (bytes.Length % Unsafe.SizeOf<T>() != 0)
        {
            throw new InvalidDataException($"{field}: {bytes.Length} bytes is not a whole number of {Unsafe.SizeOf<T>()}-byte {typeof(T).Name} values");
        }

        return MemoryMarshal.Cast<byte, T>(bytes.Span);
    }

    /// <summary>The elements of a byte string as a new array.</summary>
    /// <exception cref="InvalidDataException">The length is not a whole number of elements; the message names <paramref name="field"/>.</exception>
    public static T[] ToArray<T>(ByteString bytes, string field)
        where T : unmanaged => View<T>(bytes, field).ToArray();

    /// <summary>The number of elements in a byte string (rounded down).</summary>
    public static int Count<T>(ByteString bytes)
        where T : unmanaged => bytes.Length / Unsafe.SizeOf<T>();

    private static void RequireLittleEndian() => NumberBytes.RequireLittleEndian();
}

/// <summary>An array filled in place and then handed to a message without a copy.</summary>
/// <typeparam name="T">The element type.</typeparam>
public readonly struct PackedWriter<T>
    where T : unmanaged
{
    private readonly byte[] _bytes;

    internal PackedWriter(int count) => _bytes = new byte[count * Unsafe.SizeOf<T>()];

    /// <summary>The elements to fill.</summary>
    public Span<T> Span => MemoryMarshal.Cast<byte, T>(_bytes.AsSpan());

    /// <summary>The filled array as a byte string; do not write to <see cref="Span"/> after this.</summary>
    public ByteString ToByteString() => UnsafeByteOperations.UnsafeWrap(_bytes);
}
