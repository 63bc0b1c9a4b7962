using LshCluster.Core.Vectors;

namespace LshCluster.Core.Tests.Vectors;

public class VectorValidatorTests
{
    [Fact]
    public void A_valid_vector_passes()
    {
        Assert.Null(VectorValidator.Validate([1f, -2f, 0f], 3));
    }

    [Fact]
    public void Wrong_dimension_names_both_counts()
    {
        var error = VectorValidator.Validate([1f, 2f], 3);

        Assert.Equal(VectorErrorCode.WrongDimension, error!.Code);
        Assert.Equal("vector", error.Field);
        Assert.Equal("vector: expected 3 values, got 2", error.Message);
    }

    [Fact]
    public void NaN_names_the_index()
    {
        var error = VectorValidator.Validate([1f, float.NaN, 3f], 3);

        Assert.Equal(VectorErrorCode.NotANumber, error!.Code);
        Assert.Equal("vector[1]", error.Field);
        Assert.Equal("vector[1] is NaN; every value must be a finite number", error.Message);
    }

    [Fact]
    public void Infinity_names_the_index_and_sign()
    {
        var error = VectorValidator.Validate([1f, 2f, float.NegativeInfinity], 3, "items[4].vector");

        Assert.Equal(VectorErrorCode.Infinite, error!.Code);
        Assert.Equal("items[4].vector[2]", error.Field);
        Assert.Equal("items[4].vector[2] is -infinity; every value must be a finite number", error.Message);
    }

    [Fact]
    public void All_zeros_explain_why_they_are_refused()
    {
        var error = VectorValidator.Validate(new float[4], 4);

        Assert.Equal(VectorErrorCode.ZeroNorm, error!.Code);
        Assert.Equal("vector is all zeros; a zero vector has no direction, so its cosine similarity is undefined", error.Message);
    }

    [Fact]
    public void Values_too_small_to_square_are_not_called_zeros()
    {
        var error = VectorValidator.Validate([1e-30f, 0f], 2);

        Assert.Equal(VectorErrorCode.ZeroNorm, error!.Code);
        Assert.Contains("underflows", error.Message);
    }

    [Fact]
    public void Huge_values_report_the_overflow()
    {
        var error = VectorValidator.Validate([3e20f, 3e20f], 2);

        Assert.Equal(VectorErrorCode.NormOverflow, error!.Code);
        Assert.Contains("overflows float32", error.Message);
    }

    [Fact]
    public void EnsureValid_throws_the_typed_error()
    {
        var e = Assert.Throws<InvalidVectorException>(() => VectorValidator.EnsureValid([float.NaN], 1));

        Assert.Equal(VectorErrorCode.NotANumber, e.Error.Code);
        Assert.Equal("vector[0]", e.ParamName);
    }
}
