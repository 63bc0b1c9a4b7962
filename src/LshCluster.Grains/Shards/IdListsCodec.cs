using LshCluster.Abstractions.Shards;

namespace LshCluster.Grains.Shards;

/// <summary>Lists of ids per root as the <see cref="IdLists"/> a shard message carries, and back.</summary>
internal static class IdListsCodec
{
    /// <summary>Packs <paramref name="lists"/> in order.</summary>
    public static IdLists Pack(IReadOnlyList<(long Root, IReadOnlyList<long> Ids)> lists)
    {
        var roots = new long[lists.Count];
        var starts = new int[lists.Count + 1];
        for (var k = 0; k < lists.Count; k++)
        {
            roots[k] = lists[k].Root;
            starts[k + 1] = starts[k] + lists[k].Ids.Count;
        }

        var ids = new long[starts[^1]];
        for (var k = 0; k < lists.Count; k++)
        {
            for (var i = 0; i < lists[k].Ids.Count; i++)
            {
                ids[starts[k] + i] = lists[k].Ids[i];
            }
        }

        return new IdLists(PackedStructs.Pack<long>(roots), PackedStructs.Pack<int>(starts), PackedStructs.Pack<long>(ids));
    }

    /// <summary>How many roots <paramref name="lists"/> holds.</summary>
    public static int Count(IdLists lists) => PackedStructs.Read<long>(lists.Roots, "roots").Length;

    /// <summary>Root <paramref name="k"/>.</summary>
    public static long Root(IdLists lists, int k) => PackedStructs.Read<long>(lists.Roots, "roots")[k];

    /// <summary>The ids of root <paramref name="k"/>, without a copy.</summary>
    /// <exception cref="InvalidDataException">The lists are malformed.</exception>
    public static ReadOnlySpan<long> Ids(IdLists lists, int k)
    {
        var roots = PackedStructs.Read<long>(lists.Roots, "roots");
        var starts = PackedStructs.Read<int>(lists.Starts, "starts");
        var ids = PackedStructs.Read<long>(lists.Ids, "ids");
        if (starts.Length != roots.Length + 1 || starts[k] < 0 || starts[k] > starts[k + 1] || starts[k + 1] > ids.Length)
        {
            throw new InvalidDataException($"id lists: {roots.Length} roots, {starts.Length} starts and {ids.Length} ids do not agree at root {k}");
        }

        return ids[starts[k]..starts[k + 1]];
    }
}
