using LshCluster.Core.Kernels;

namespace LshCluster.Core.Tests.Kernels;

[Collection(SimdPathCollection.Name)]
public class VectorMathTests
{
    [Fact]
    public void Dot_is_bit_identical_on_every_path_for_every_length_0_to_300()
    {
        for (var n = 0; n <= 300; n++)
        {
            var x = TestData.RandomValues(n, (ulong)n);
            var y = TestData.RandomValues(n, (ulong)n + 1000);
            var reference = VectorMath.DotScalar(x, y);
            foreach (var bits in SimdPaths.Available())
            {
                var actual = SimdPaths.With(bits, () => VectorMath.Dot(x, y));
                Assert.True(BitConverter.SingleToInt32Bits(reference) == BitConverter.SingleToInt32Bits(actual),
                    $"n={n}, {bits}-bit: {actual} vs scalar {reference}");
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(63)]
    [InlineData(784)]
    [InlineData(1536)]
    public void Dot_is_close_to_a_double_precision_sum(int n)
    {
        var x = TestData.RandomValues(n, 1);
        var y = TestData.RandomValues(n, 2);
        var expected = x.Zip(y, (a, b) => (double)a * b).Sum();

        Assert.Equal(expected, VectorMath.Dot(x, y), 1e-4 * Math.Sqrt(n));
    }

    [Fact]
    public void Cosine_of_a_vector_with_itself_is_one_and_with_its_negation_minus_one()
    {
        var x = TestData.RandomValues(784, 3);
        var negated = x.Select(v => -v).ToArray();

        Assert.Equal(1f, VectorMath.Cosine(x, x), 1e-6f);
        Assert.Equal(-1f, VectorMath.Cosine(x, negated), 1e-6f);
        Assert.Equal(0f, VectorMath.Cosine(x, new float[784]));
    }

    [Fact]
    public void Dot_of_different_lengths_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => VectorMath.Dot(new float[3], new float[4]));
        Assert.Contains("3 and 4", e.Message);
    }

    [Fact]
    public void ArgMax_picks_the_first_of_equal_magnitudes_on_every_path()
    {
        for (var n = 1; n <= 256; n++)
        {
            var values = TestData.RandomValues(n, (ulong)n);
            // Plant ties of the largest magnitude, with both signs, at a few positions.
            var top = values.Max(Math.Abs) + 1;
            var rng = new LshCluster.Core.Hashing.SplitMix64((ulong)n);
            var first = n;
            for (var t = 0; t < 3; t++)
            {
                var at = (int)(rng.Next() % (ulong)n);
                values[at] = t % 2 == 0 ? top : -top;
                first = Math.Min(first, at);
            }

            foreach (var bits in SimdPaths.Available())
            {
                Assert.Equal(first, SimdPaths.With(bits, () => ArgMax.OfAbsolute(values)));
            }
        }
    }
}
