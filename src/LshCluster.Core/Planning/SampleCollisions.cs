using LshCluster.Core.Hashing;

namespace LshCluster.Core.Planning;

/// <summary>
/// What a scheme costs on the user's own data: the sample is hashed with the real hasher and every pair of sample
/// vectors that shares a bucket is counted, so that bucket crowding and candidates come from the data's structure
/// (classes, clusters, the centring), not from a model of it. Per pair of vectors, so that the planner can scale the
/// rates to any number of stored vectors.
/// </summary>
internal sealed class SampleCollisions
{
    private readonly IReadOnlyList<float[]> _sample;
    private readonly Sketch128[] _sketches;
    private readonly int _maxHamming;
    private readonly long _pairs;

    /// <param name="sample">The vectors, at least two.</param>
    /// <param name="lowestRung">The lowest rung: the sketch filter lets through pairs the engine would check at it.</param>
    public SampleCollisions(IReadOnlyList<float[]> sample, double lowestRung)
    {
        _sample = sample;
        var sketcher = new LshHasher(new LshScheme(LshFamily.CrossPolytope, sample[0].Length, 1, 1, 1, [0.9f]));
        _sketches = [.. sample.Select(v => sketcher.ComputeSketch(v))];
        _maxHamming = Sketch128.MaxHamming(lowestRung);
        _pairs = (long)sample.Count * (sample.Count - 1) / 2;
    }

    /// <summary>
    /// Hashes the sample with <paramref name="scheme"/> and returns, per pair of sample vectors, the expected number of
    /// tables in which the two share a bucket (bucket entries an insert walks past, per stored vector), and the chance
    /// that they share at least one and pass the sketch filter (exact checks per stored vector).
    /// </summary>
    public (double EntriesPerPair, double CandidatesPerPair) Measure(LshScheme scheme)
    {
        var n = _sample.Count;
        var tables = scheme.Tables;
        var hasher = new LshHasher(scheme);
        var keys = new ulong[n * tables];
        Parallel.For(0, n, i => hasher.ComputeBucketKeys(_sample[i], keys.AsSpan(i * tables, tables)));

        // Pairs (i < j) that met in some table, one bit each in an n × n matrix.
        var met = new ulong[((long)n * n + 63) / 64];
        long entries = 0;
        var column = new (ulong Key, int Index)[n];
        for (var t = 0; t < tables; t++)
        {
            for (var i = 0; i < n; i++)
            {
                column[i] = (keys[(i * tables) + t], i);
            }

            Array.Sort(column, (a, b) => a.Key.CompareTo(b.Key));
            for (var start = 0; start < n;)
            {
                var end = start + 1;
                while (end < n && column[end].Key == column[start].Key)
                {
                    end++;
                }

                for (var a = start; a < end; a++)
                {
                    for (var b = a + 1; b < end; b++)
                    {
                        var (i, j) = column[a].Index < column[b].Index ? (column[a].Index, column[b].Index) : (column[b].Index, column[a].Index);
                        var bit = ((long)i * n) + j;
                        met[bit >> 6] |= 1UL << (int)(bit & 63);
                        entries++;
                    }
                }

                start = end;
            }
        }

        long candidates = 0;
        for (var word = 0; word < met.Length; word++)
        {
            for (var bits = met[word]; bits != 0; bits &= bits - 1)
            {
                var bit = ((long)word << 6) + System.Numerics.BitOperations.TrailingZeroCount(bits);
                var (i, j) = ((int)(bit / n), (int)(bit % n));
                if (_sketches[i].HammingDistance(_sketches[j]) <= _maxHamming)
                {
                    candidates++;
                }
            }
        }

        return ((double)entries / _pairs, (double)candidates / _pairs);
    }
}
