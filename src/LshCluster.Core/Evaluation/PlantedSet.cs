using LshCluster.Core.Hashing;
using LshCluster.Core.Vectors;

namespace LshCluster.Core.Evaluation;

/// <summary>
/// A synthetic collection with planted near-duplicates: random unit vectors (unrelated pairs have cosine near 0),
/// a share of which get 1–4 copies perturbed to a chosen cosine with their original (0.995, 0.985 or 0.96), so that
/// clusters form at different rungs. Used by <c>lshc demo</c> when Fashion-MNIST is not installed, and by tests.
/// </summary>
public static class PlantedSet
{
    private static readonly double[] CopyCosines = [0.995, 0.985, 0.96];

    /// <summary>Generates about <paramref name="count"/> vectors of <paramref name="dimension"/> values, in shuffled order.</summary>
    public static List<float[]> Generate(int dimension, int count, ulong seed, double duplicateShare = 0.3) =>
        GenerateWithGroups(dimension, count, seed, duplicateShare).Vectors;

    /// <summary>
    /// <see cref="Generate"/>'s vectors (the same ones), and for each the index of its original: a vector and its copies
    /// share it. Unrelated vectors meet at cosine ≈ N(0, 1/d), so at the rungs this set is made for the near pairs are
    /// the pairs within groups: recall can be counted exactly without comparing all pairs.
    /// </summary>
    public static (List<float[]> Vectors, int[] Groups) GenerateWithGroups(int dimension, int count, ulong seed, double duplicateShare = 0.3)
    {
        var rng = SplitMix64.ForStream(seed, 0x504C414E54UL);
        var vectors = new List<float[]>(count);
        var groups = new List<int>(count);
        while (vectors.Count < count)
        {
            var original = new float[dimension];
            SyntheticVectors.RandomUnit(ref rng, original);
            var group = vectors.Count;
            vectors.Add(original);
            groups.Add(group);
            if (rng.NextDouble() < duplicateShare)
            {
                var copies = 1 + (int)(rng.NextDouble() * 4);
                for (var c = 0; c < copies && vectors.Count < count; c++)
                {
                    var copy = new float[dimension];
                    SyntheticVectors.NearDuplicate(original, CopyCosines[(int)(rng.NextDouble() * CopyCosines.Length)], ref rng, copy);
                    vectors.Add(copy);
                    groups.Add(group);
                }
            }
        }

        for (var i = vectors.Count - 1; i > 0; i--)
        {
            var j = (int)(rng.NextDouble() * (i + 1));
            (vectors[i], vectors[j]) = (vectors[j], vectors[i]);
            (groups[i], groups[j]) = (groups[j], groups[i]);
        }

        return (vectors, [.. groups]);
    }

    /// <summary>
    /// Vectors made as <see cref="GenerateWithGroups"/> makes them, streamed without holding the set: each original's
    /// copies follow it at random places among the next <paramref name="window"/> vectors. Each comes with its group
    /// (the position of its original in the stream). For sets too large to shuffle in memory (<c>lshc bench scale</c>).
    /// </summary>
    public static IEnumerable<(float[] Vector, long Group)> Stream(int dimension, long count, ulong seed, double duplicateShare = 0.3, int window = 50_000)
    {
        var rng = SplitMix64.ForStream(seed, 0x53545245414DUL);
        var due = new PriorityQueue<(float[] Original, long Group, double Cosine), long>();
        for (long position = 0; position < count; position++)
        {
            if (due.TryPeek(out var copy, out var at) && at <= position)
            {
                due.Dequeue();
                var vector = new float[dimension];
                SyntheticVectors.NearDuplicate(copy.Original, copy.Cosine, ref rng, vector);
                yield return (vector, copy.Group);
                continue;
            }

            var original = new float[dimension];
            SyntheticVectors.RandomUnit(ref rng, original);
            if (rng.NextDouble() < duplicateShare)
            {
                var copies = 1 + (int)(rng.NextDouble() * 4);
                for (var c = 0; c < copies; c++)
                {
                    due.Enqueue((original, position, CopyCosines[(int)(rng.NextDouble() * CopyCosines.Length)]), position + 1 + (long)(rng.NextDouble() * window));
                }
            }

            yield return (original, position);
        }
    }
}
