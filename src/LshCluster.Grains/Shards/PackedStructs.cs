using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LshCluster.Core.Vectors;
using LshCluster.Storage;

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

    /// <summary>
    /// The structs of <paramref name="items"/> seen as bytes, without a copy, for a message within the silo (between silos
    /// Orleans writes the bytes once): the array must not change until the call that carries them has returned.
    /// </summary>
    public static ReadOnlyMemory<byte> View<T>(ArraySegment<T> items)
        where T : unmanaged =>
        NumberBytes.Bytes(items.Array!).Slice(items.Offset * Unsafe.SizeOf<T>(), items.Count * Unsafe.SizeOf<T>());

    /// <summary>The structs in <paramref name="bytes"/>, without a copy.</summary>
    /// <exception cref="InvalidDataException">The length is not a whole number of structs; the message names <paramref name="field"/>.</exception>
    public static ReadOnlySpan<T> Read<T>(byte[] bytes, string field)
        where T : unmanaged => Read<T>(bytes.AsSpan(), field);

    /// <inheritdoc cref="Read{T}(byte[], string)"/>
    public static ReadOnlySpan<T> Read<T>(ReadOnlySpan<byte> bytes, string field)
        where T : unmanaged
    {
        if (bytes.Length % Unsafe.SizeOf<T>() != 0)
        {
            throw new InvalidDataException($"{field}: {bytes.Length} bytes is not a whole number of {Unsafe.SizeOf<T>()}-byte {typeof(T).Name} values");
        }

        return MemoryMarshal.Cast<byte, T>(bytes);
    }
}

/// <summary>What registering found for one item: its id, when it was registered, and whether this call registered it.</summary>
/// <param name="Id">The vector's id.</param>
/// <param name="InsertedAtTicks">UTC ticks of its first registration.</param>
/// <param name="Verdict">Its durable verdict, when <paramref name="Acknowledged"/>.</param>
/// <param name="IsNew">Registered by this call (its insert is the caller's to finish); else registered before.</param>
/// <param name="Acknowledged">Its verdict is durable already.</param>
internal readonly record struct RegisteredItem(long Id, long InsertedAtTicks, StoredVerdict Verdict, bool IsNew, bool Acknowledged)
{
    public DateTimeOffset InsertedAt => new(InsertedAtTicks, TimeSpan.Zero);
}

/// <summary>The header of a new vector in a <c>VerifyRequest</c>; its floats are packed beside.</summary>
internal readonly record struct QueryHeader(int Item, long VectorId, float SquaredNorm, float ProjectionSquaredNorm);

/// <summary>A check in a <c>VerifyRequest</c>: the query's position among the request's queries, and the candidate.</summary>
internal readonly record struct PackedCheck(int Query, long CandidateId) : ICandidateCheck;

/// <summary>A vector's durable verdict, as acknowledged at its home.</summary>
internal readonly record struct VerdictOf(long Id, StoredVerdict Verdict);
