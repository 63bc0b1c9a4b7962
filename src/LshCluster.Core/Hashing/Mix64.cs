using System.Runtime.CompilerServices;

namespace LshCluster.Core.Hashing;

/// <summary>
/// The 64-bit mixing functions that every persisted key is built from. Their outputs are stored in databases and
/// compared across processes, so they must never change (golden tests pin them; see docs/adr/0001-hash-scheme.md).
/// </summary>
public static class Mix64
{
    /// <summary>The golden-ratio increment of SplitMix64.</summary>
    public const ulong Gamma = 0x9E3779B97F4A7C15UL;

    /// <summary>
    /// The SplitMix64 finaliser (Stafford's "variant 13"): a bijection on 64-bit values whose every output bit
    /// depends on every input bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Combines an accumulated key with one more value; order-sensitive.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Combine(ulong accumulator, ulong value) => Mix(accumulator + Gamma + Mix(value + Gamma));

    /// <summary>
    /// Maps a 64-bit hash to <c>[0, count)</c> by the high half of a 128-bit product (Lemire's reduction): unbiased
    /// enough for shard counts far below 2^32 and cheaper than a division.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Reduce(ulong hash, int count)
    {
        if (count <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "must be positive");
        }

        return (int)Math.BigMul(hash, (ulong)count, out _);
    }

    /// <summary>
    /// A stable 64-bit hash of a string's UTF-16 code units (FNV-1a over the code units, then <see cref="Mix"/>).
    /// Used for home shards of external ids; stable across processes and runtimes, unlike
    /// <see cref="string.GetHashCode()"/>.
    /// </summary>
    public static ulong HashString(ReadOnlySpan<char> text)
    {
        var h = 0xCBF29CE484222325UL;
        foreach (var c in text)
        {
            h = (h ^ c) * 0x100000001B3UL;
        }

        return Mix(h ^ (ulong)text.Length);
    }
}
