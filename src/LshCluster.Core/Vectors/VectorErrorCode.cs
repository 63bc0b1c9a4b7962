namespace LshCluster.Core.Vectors;

/// <summary>Why a vector was refused. The numeric values are part of the public API (they travel in errors).</summary>
public enum VectorErrorCode
{
    /// <summary>The vector has the wrong number of values for the cluster's dimension.</summary>
    WrongDimension = 1,

    /// <summary>A value is NaN.</summary>
    NotANumber = 2,

    /// <summary>A value is +∞ or −∞.</summary>
    Infinite = 3,

    /// <summary>Every value is zero: the direction, and so the cosine, is undefined.</summary>
    ZeroNorm = 4,

    /// <summary>The values are so large that the squared norm overflows float32.</summary>
    NormOverflow = 5,
}

/// <summary>The stable names of <see cref="VectorErrorCode"/> that APIs report in an item's error code.</summary>
public static class VectorErrorCodes
{
    /// <summary>The wire name of <paramref name="code"/>, e.g. <c>wrong_dimension</c>.</summary>
    public static string Name(this VectorErrorCode code) => code switch
    {
        VectorErrorCode.WrongDimension => "wrong_dimension",
        VectorErrorCode.NotANumber => "not_a_number",
        VectorErrorCode.Infinite => "infinite",
        VectorErrorCode.ZeroNorm => "zero_norm",
        VectorErrorCode.NormOverflow => "norm_overflow",
        _ => "invalid_vector",
    };
}
