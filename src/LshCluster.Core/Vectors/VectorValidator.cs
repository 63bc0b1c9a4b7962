using LshCluster.Core.Kernels;

namespace LshCluster.Core.Vectors;

/// <summary>Checks a vector before anything is computed or stored from it.</summary>
public static class VectorValidator
{
    /// <summary>
    /// Validates <paramref name="vector"/> against the expected dimension. Checks, in order: the dimension, every
    /// value finite (the first bad index is named), the squared norm finite and non-zero.
    /// </summary>
    /// <param name="vector">The values.</param>
    /// <param name="dimension">The cluster's dimension.</param>
    /// <param name="field">The field name used in messages.</param>
    /// <returns>null when the vector is acceptable, else the first problem.</returns>
    public static VectorError? Validate(ReadOnlySpan<float> vector, int dimension, string field = "vector")
    {
        if (vector.Length != dimension)
        {
            return new VectorError(VectorErrorCode.WrongDimension, field,
                $"{field}: expected {dimension} values, got {vector.Length}");
        }

        for (var i = 0; i < vector.Length; i++)
        {
            var value = vector[i];
            if (float.IsNaN(value))
            {
                return new VectorError(VectorErrorCode.NotANumber, $"{field}[{i}]", $"{field}[{i}] is NaN; every value must be a finite number");
            }

            if (float.IsInfinity(value))
            {
                var sign = value > 0 ? "+" : "-";
                return new VectorError(VectorErrorCode.Infinite, $"{field}[{i}]", $"{field}[{i}] is {sign}infinity; every value must be a finite number");
            }
        }

        var squaredNorm = VectorMath.SquaredNorm(vector);
        if (squaredNorm == 0 && vector.ContainsAnyExcept(0f))
        {
            return new VectorError(VectorErrorCode.ZeroNorm, field,
                $"{field} has values so small that its squared norm underflows to 0 in float32; scale it up");
        }

        if (squaredNorm == 0)
        {
            return new VectorError(VectorErrorCode.ZeroNorm, field,
                $"{field} is all zeros; a zero vector has no direction, so its cosine similarity is undefined");
        }

        if (float.IsInfinity(squaredNorm))
        {
            return new VectorError(VectorErrorCode.NormOverflow, field,
                $"{field} has values so large that its squared norm overflows float32 (about 3.4e38); scale it down");
        }

        return null;
    }

    /// <summary>Like <see cref="Validate"/> but throws.</summary>
    /// <exception cref="InvalidVectorException">The vector is refused.</exception>
    public static void EnsureValid(ReadOnlySpan<float> vector, int dimension, string field = "vector")
    {
        if (Validate(vector, dimension, field) is { } error)
        {
            throw new InvalidVectorException(error);
        }
    }
}
