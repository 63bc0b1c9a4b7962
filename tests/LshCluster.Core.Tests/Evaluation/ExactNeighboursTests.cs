using LshCluster.Core.Evaluation;

namespace LshCluster.Core.Tests.Evaluation;

/// <summary>The ground truth screens only neighbouring cells; it must find exactly the pairs that screening every pair finds.</summary>
public sealed class ExactNeighboursTests
{
    [Theory]
    [InlineData(0.99f)]
    [InlineData(0.95f)]
    [InlineData(0.8f)]
    public void Screening_neighbouring_cells_finds_every_pair_that_screening_all_pairs_finds(float threshold)
    {
        // Planted near-duplicates (groups at many similarities) and a shifted copy of each, so that the data is not
        // centred and spreads over many cells.
        var planted = PlantedSet.Generate(48, 3000, seed: 5);
        var vectors = planted.Concat(planted.Select(v => v.Select((x, k) => x + (k % 3 == 0 ? 0.3f : 0f)).ToArray())).ToList();

        var all = ExactNeighbours.Pairs(vectors, threshold, cells: false);
        var cells = ExactNeighbours.Pairs(vectors, threshold, cells: true);

        Assert.True(all.Count > 500, $"{all.Count} pairs: too few to tell");
        Assert.Equal(all.Select(p => (p.I, p.J)).Order(), cells.Select(p => (p.I, p.J)).Order());
        Assert.Equal(all.OrderBy(p => (p.I, p.J)).Select(p => p.Cosine), cells.OrderBy(p => (p.I, p.J)).Select(p => p.Cosine));
    }
}
