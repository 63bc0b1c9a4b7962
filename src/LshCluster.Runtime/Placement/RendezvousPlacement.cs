namespace LshCluster.Runtime.Placement;

/// <summary>
/// Highest-random-weight (rendezvous) hashing: the desired owner of a shard is the candidate with the largest hash of
/// (candidate, shard). Going from N to N+1 candidates moves only the shards the newcomer wins, about 1/(N+1) of them,
/// and every silo computes the same answer from the same set without talking to the others.
/// </summary>
public static class RendezvousPlacement
{
    /// <summary>The desired owner of <paramref name="shard"/> among <paramref name="candidates"/>, or null when there are none.</summary>
    public static string? Owner(int shard, IReadOnlyList<string> candidates)
    {
        string? best = null;
        ulong bestWeight = 0;
        foreach (var candidate in candidates)
        {
            var weight = Weight(candidate, shard);
            if (best is null || weight > bestWeight || (weight == bestWeight && string.CompareOrdinal(candidate, best) < 0))
            {
                best = candidate;
                bestWeight = weight;
            }
        }

        return best;
    }

    /// <summary>The desired owner of every shard 0 … <paramref name="shardCount"/>-1.</summary>
    public static string?[] Owners(int shardCount, IReadOnlyList<string> candidates)
    {
        var owners = new string?[shardCount];
        for (var s = 0; s < shardCount; s++)
        {
            owners[s] = Owner(s, candidates);
        }

        return owners;
    }

    private static ulong Weight(string candidate, int shard)
    {
        // FNV-1a over the name, then a 64-bit finaliser (splitmix) with the shard mixed in: stable across processes
        // and runtimes (string.GetHashCode is randomised per process).
        var h = 14695981039346656037UL;
        foreach (var c in candidate)
        {
            h = (h ^ c) * 1099511628211UL;
        }

        var x = h ^ ((ulong)(uint)shard * 0x9E3779B97F4A7C15UL);
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
