using LshCluster.Core.Evaluation;
using LshCluster.Core.Kernels;

namespace LshCluster.Core.Tests.Evaluation;

/// <summary>The planted set's groups, which let a benchmark count recall without comparing all pairs.</summary>
public sealed class PlantedSetTests
{
    [Fact]
    public void The_near_pairs_are_exactly_the_near_pairs_within_groups_and_the_vectors_are_Generates()
    {
        var (vectors, groups) = PlantedSet.GenerateWithGroups(dimension: 64, count: 3_000, seed: 7);
        Assert.Equal(PlantedSet.Generate(64, 3_000, seed: 7), vectors);
        Assert.Equal(vectors.Count, groups.Length);
        Assert.True(groups.Distinct().Count() < vectors.Count * 0.8, "too few copies were planted");

        // At the rungs the set is made for, the brute force finds exactly the pairs within groups.
        var exact = ExactNeighbours.Pairs(vectors, 0.95f).Select(p => (p.I, p.J)).Order().ToList();
        var withinGroups = Enumerable.Range(0, vectors.Count)
            .SelectMany(i => Enumerable.Range(i + 1, vectors.Count - i - 1).Where(j => groups[i] == groups[j]).Select(j => (I: i, J: j)))
            .Where(p => Cosine(vectors[p.I], vectors[p.J]) >= 0.95f)
            .Order().ToList();
        Assert.NotEmpty(exact);
        Assert.Equal(exact, withinGroups);
    }

    private static float Cosine(float[] a, float[] b) => VectorMath.Cosine(VectorMath.Dot(a, b), VectorMath.SquaredNorm(a), VectorMath.SquaredNorm(b));
}
