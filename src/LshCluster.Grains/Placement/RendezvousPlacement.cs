namespace LshCluster.Grains.Placement;

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

    /// <summary>
    /// The desired owner of every shard 0 … <paramref name="shardCount"/>-1, with bounded load: shards are taken in
    /// order and each goes to the highest-ranked candidate that still has room under ⌈S / N⌉, so no silo owns more
    /// than an even share (the last to fill may own up to N − 1 fewer). Plain rendezvous leaves silos ±2σ ≈ ±10 % apart
    /// at S = 1,024, N = 4; the bound costs a few extra moves when N changes (measured in the tests), still far from a
    /// full reshuffle.
    /// </summary>
    public static string?[] Owners(int shardCount, IReadOnlyList<string> candidates)
    {
        var owners = new string?[shardCount];
        if (candidates.Count == 0)
        {
            return owners;
        }

        var distinct = candidates.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        var capacity = (shardCount + distinct.Length - 1) / distinct.Length;
        var load = new int[distinct.Length];
        var ranking = new (ulong Weight, int Candidate)[distinct.Length];
        for (var s = 0; s < shardCount; s++)
        {
            for (var c = 0; c < distinct.Length; c++)
            {
                ranking[c] = (Weight(distinct[c], s), c);
            }

            Array.Sort(ranking, (x, y) => y.Weight != x.Weight ? y.Weight.CompareTo(x.Weight) : x.Candidate.CompareTo(y.Candidate));

            // Room always remains: the candidates' capacity adds up to at least S.
            var chosen = ranking.First(r => load[r.Candidate] < capacity).Candidate;
            load[chosen]++;
            owners[s] = distinct[chosen];
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
