using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LshCluster.Core.Vectors;

namespace LshCluster.Grains.Shards;

/// <summary>
/// Spans of plain structs (bucket operations, candidates) as the <c>byte[]</c> a grain message carries: one copy to
/// pack, none to read. Both ends run this assembly, so the layout is the same on both.
/// </summary>
internal static class PackedStructs
{
    /// <summary>The structs' bytes in a new array.</summary>
    public static byte[] Pack<T>(ReadOnlySpan<T> items)
        where T : unmanaged
    {
        NumberBytes.RequireLittleEndian();
        return MemoryMarshal.AsBytes(items).ToArray();
    }

    /// <summary>The structs in <paramref name="bytes"/>, without a copy.</summary>
    /// <exception cref="InvalidDataException">The length is not a whole number of structs; the message names <paramref name="field"/>.</exception>
    public static ReadOnlySpan<T> Read<T>(byte[] bytes, string field)
        where T : unmanaged
    {
        if (bytes.Length % Unsafe.SizeOf<T>() != 0)
        {
            throw new InvalidDataException($"{field}: {bytes.Length} bytes is not a whole number of {Unsafe.SizeOf<T>()}-byte {typeof(T).Name} values");
        }

        return MemoryMarshal.Cast<byte, T>(bytes);
    }
}
