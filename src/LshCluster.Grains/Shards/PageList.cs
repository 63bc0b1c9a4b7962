namespace LshCluster.Grains.Shards;

/// <summary>
/// Fixed pages of structs that are never copied once written (the bucket arena, the vector directory): a list of pages
/// replaced whole when it grows, so that a reader holding an older list still reaches every page it knew.
/// </summary>
internal static class PageList
{
    /// <summary>
    /// Adds the page that <paramref name="slot"/> starts, when it starts one (slots are taken in order), and publishes the
    /// list after the page is in it. For the one writer of <paramref name="pages"/>.
    /// </summary>
    public static void AddWhenStarting<T>(ref T[][] pages, int slot, int pageBits)
    {
        if ((slot & ((1 << pageBits) - 1)) != 0)
        {
            return;
        }

        var list = pages;
        if ((slot >> pageBits) == list.Length)
        {
            Array.Resize(ref list, Math.Max(4, list.Length * 2));
        }

        list[slot >> pageBits] = new T[1 << pageBits];
        Volatile.Write(ref pages, list);
    }
}
