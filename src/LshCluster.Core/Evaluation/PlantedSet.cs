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
    public static List<float[]> Generate(int dimension, int count, ulong seed, double duplicateShare = 0.3)
    {
        var rng = SplitMix64.ForStream(seed, 0x504C414E54UL);
        var vectors = new List<float[]>(count);
        while (vectors.Count < count)
        {
            var original = new float[dimension];
            SyntheticVectors.RandomUnit(ref rng, original);
            vectors.Add(original);
            if (rng.NextDouble() < duplicateShare)
            {
                var copies = 1 + (int)(rng.NextDouble() * 4);
                for (var c = 0; c < copies && vectors.Count < count; c++)
                {
                    var copy = new float[dimension];
                    SyntheticVectors.NearDuplicate(original, CopyCosines[(int)(rng.NextDouble() * CopyCosines.Length)], ref rng, copy);
                    vectors.Add(copy);
                }
            }
        }

        for (var i = vectors.Count - 1; i > 0; i--)
        {
            var j = (int)(rng.NextDouble() * (i + 1));
            (vectors[i], vectors[j]) = (vectors[j], vectors[i]);
        }

        return vectors;
    }
}
