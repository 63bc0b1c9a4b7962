using LshCluster.Core.Hashing;
using LshCluster.Core.Kernels;

namespace LshCluster.Core.Tests.Kernels;

[Collection(SimdPathCollection.Name)]
public class FastHadamardTests
{
    public static TheoryData<int> Sizes() => [.. Enumerable.Range(1, 12).Select(m => 1 << m)];

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Transform_equals_the_naive_Hadamard_matrix_product(int n)
    {
        var x = TestData.RandomValues(n, (ulong)n);
        var expected = new double[n];
        for (var i = 0; i < n; i++)
        {
            double sum = 0;
            for (var j = 0; j < n; j++)
            {
                sum += (System.Numerics.BitOperations.PopCount((uint)(i & j)) & 1) == 0 ? x[j] : -x[j];
            }

            expected[i] = sum;
        }

        var actual = x.ToArray();
        FastHadamard.Transform(actual);

        var tolerance = 1e-5 * Math.Sqrt(n) * n;
        for (var i = 0; i < n; i++)
        {
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance, $"n={n} i={i}: {actual[i]} vs {expected[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Transforming_twice_multiplies_by_n(int n)
    {
        var x = TestData.RandomValues(n, 7);
        var y = x.ToArray();

        FastHadamard.Transform(y);
        FastHadamard.Transform(y);

        for (var i = 0; i < n; i++)
        {
            Assert.Equal(n * x[i], y[i], n * 1e-4f);
        }
    }

    [Fact]
    public void Every_vector_path_is_bit_identical_to_the_scalar_reference()
    {
        for (var m = 1; m <= 16; m++)
        {
            var n = 1 << m;
            var x = TestData.RandomValues(n, (ulong)(m * 31));
            var signs = new ulong[Math.Max(1, n / 64)];
            var rng = new SplitMix64(99);
            for (var i = 0; i < signs.Length; i++)
            {
                signs[i] = rng.Next();
            }

            var reference = new float[n];
            FastHadamard.TransformScalar(x, reference, signs);
            foreach (var bits in SimdPaths.Available())
            {
                var actual = new float[n];
                SimdPaths.With(bits, () =>
                {
                    FastHadamard.Transform(x, actual, signs);
                    return 0;
                });
                Assert.True(reference.AsSpan().SequenceEqual(actual), $"n={n}: the {bits}-bit path differs from the scalar reference");
            }
        }
    }

    [Fact]
    public void In_place_and_out_of_place_transforms_agree()
    {
        var x = TestData.RandomValues(1024, 5);
        var signs = new ulong[16];
        signs.AsSpan().Fill(0xF0F0_1234_8765_AAAAUL);
        var outOfPlace = new float[1024];
        FastHadamard.Transform(x, outOfPlace, signs);

        var inPlace = x.ToArray();
        FastHadamard.Transform(inPlace, inPlace, signs);

        Assert.Equal(outOfPlace, inPlace);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(100)]
    [InlineData(1 << 17)]
    public void Lengths_that_are_not_powers_of_two_from_2_to_65536_are_refused(int n)
    {
        var e = Assert.Throws<ArgumentException>(() => FastHadamard.Transform(new float[n]));
        Assert.Contains("power of two", e.Message);
    }
}
