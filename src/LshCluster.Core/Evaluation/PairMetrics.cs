namespace LshCluster.Core.Evaluation;

/// <summary>
/// Pair recall and precision of a clustering against the exact components, counted through the contingency table
/// of (exact component, cluster) rather than by enumerating pairs: with <c>n_ij</c> the vectors in exact component i
/// and cluster j, the pairs together in both are <c>Σ C(n_ij, 2)</c>; recall divides by <c>Σ C(a_i, 2)</c> (pairs
/// together in the exact components), precision by <c>Σ C(b_j, 2)</c> (pairs together in the clusters).
/// </summary>
public static class PairMetrics
{
    /// <summary>Computes (recall, precision); both 1 when there are no pairs to find or none claimed.</summary>
    /// <param name="exactLabel">Exact component of each vector.</param>
    /// <param name="clusterLabel">Cluster of each vector.</param>
    public static (double Recall, double Precision, long ExactPairs, long ClusteredPairs) Compute(IReadOnlyList<long> exactLabel, IReadOnlyList<long> clusterLabel)
    {
        if (exactLabel.Count != clusterLabel.Count)
        {
            throw new ArgumentException($"clusterLabel has {clusterLabel.Count} labels, exactLabel {exactLabel.Count}", nameof(clusterLabel));
        }

        var joint = new Dictionary<(long, long), long>();
        var exact = new Dictionary<long, long>();
        var cluster = new Dictionary<long, long>();
        for (var i = 0; i < exactLabel.Count; i++)
        {
            joint[(exactLabel[i], clusterLabel[i])] = joint.GetValueOrDefault((exactLabel[i], clusterLabel[i])) + 1;
            exact[exactLabel[i]] = exact.GetValueOrDefault(exactLabel[i]) + 1;
            cluster[clusterLabel[i]] = cluster.GetValueOrDefault(clusterLabel[i]) + 1;
        }

        static long Pairs(long n) => n * (n - 1) / 2;
        var together = joint.Values.Sum(Pairs);
        var exactPairs = exact.Values.Sum(Pairs);
        var clusteredPairs = cluster.Values.Sum(Pairs);
        return (exactPairs == 0 ? 1 : (double)together / exactPairs, clusteredPairs == 0 ? 1 : (double)together / clusteredPairs, exactPairs, clusteredPairs);
    }

    /// <summary>Component labels (the smallest index of each component) of <paramref name="count"/> vectors joined by <paramref name="pairs"/>.</summary>
    public static long[] Components(int count, IEnumerable<(int I, int J)> pairs)
    {
        var parent = new int[count];
        for (var i = 0; i < count; i++)
        {
            parent[i] = i;
        }

        int Find(int x)
        {
            while (parent[x] != x)
            {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }

            return x;
        }

        foreach (var (i, j) in pairs)
        {
            var a = Find(i);
            var b = Find(j);
            if (a != b)
            {
                parent[Math.Max(a, b)] = Math.Min(a, b);
            }
        }

        var labels = new long[count];
        for (var i = 0; i < count; i++)
        {
            labels[i] = Find(i);
        }

        return labels;
    }
}
