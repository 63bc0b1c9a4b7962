using LshCluster.Core.Hashing;

namespace LshCluster.Core.Tests.Hashing;

public sealed class MultiprobeTests
{
    [Theory]
    [InlineData(64, 2, 1000)]
    [InlineData(1024, 8, 4)]
    [InlineData(1024, 4, 3)]
    [InlineData(256, 16, 7)]
    [InlineData(4096, 3, 2)]
    public void Top_alternatives_equal_a_full_sort_by_magnitude_then_index_even_with_many_ties(int m, int t, int levels)
    {
        var random = new Random(m + t + levels);
        for (var trial = 0; trial < 200; trial++)
        {
            // Few distinct magnitudes, so ties decide most places.
            var y = Enumerable.Range(0, m).Select(_ => (float)(random.Next(levels) * (random.Next(2) == 0 ? 1 : -1))).ToArray();
            var codes = new int[t];
            var costs = new float[t];

            var count = Multiprobe.TopCrossPolytopeAlternatives(y, codes, costs);

            var expected = Enumerable.Range(0, m).OrderByDescending(j => Math.Abs(y[j])).ThenBy(j => j).Take(t)
                .Select(j => BitConverter.SingleToInt32Bits(y[j]) < 0 ? j + m : j).ToArray();
            Assert.Equal(t, count);
            Assert.Equal(expected, codes);
        }
    }
}
