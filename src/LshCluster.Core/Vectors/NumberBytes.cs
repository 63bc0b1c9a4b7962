using System.Buffers;
using System.Runtime.InteropServices;

namespace LshCluster.Core.Vectors;

/// <summary>
/// Arrays of fixed-size numbers seen as their little-endian bytes and back, without copies: how vectors and
/// projections travel inside messages (a <c>float[]</c> field is encoded element by element by every serializer here).
/// </summary>
public static class NumberBytes
{
    /// <summary>
    /// The array's memory seen as bytes, without a copy: a stored vector goes into a message as it is, so the array must
    /// not change while a message holds it.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">The machine is big-endian.</exception>
    public static ReadOnlyMemory<byte> Bytes<T>(T[] values)
        where T : unmanaged
    {
        RequireLittleEndian();
        return new ByteView<T>(values).Memory;
    }

    /// <summary>The elements of bytes from <see cref="Bytes{T}"/> or a message (any alignment: x64 and ARM64 read unaligned).</summary>
    public static ReadOnlySpan<T> View<T>(ReadOnlyMemory<byte> bytes)
        where T : unmanaged => MemoryMarshal.Cast<byte, T>(bytes.Span);

    /// <summary>Messages pack numbers little-endian.</summary>
    /// <exception cref="PlatformNotSupportedException">The machine is big-endian.</exception>
    public static void RequireLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("messages pack numbers little-endian; this machine is big-endian");
        }
    }

    private sealed class ByteView<T>(T[] array) : MemoryManager<byte>
        where T : unmanaged
    {
        public override Span<byte> GetSpan() => MemoryMarshal.AsBytes(array.AsSpan());

        public override unsafe MemoryHandle Pin(int elementIndex = 0)
        {
            var handle = GCHandle.Alloc(array, GCHandleType.Pinned);
            return new MemoryHandle((byte*)handle.AddrOfPinnedObject() + elementIndex, handle);
        }

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
