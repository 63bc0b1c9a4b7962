using System.Runtime.Intrinsics;

namespace LshCluster.Core.Kernels;

/// <summary>
/// Which vector width the kernels use: the widest the hardware accelerates, capped by <see cref="MaxBits"/>.
/// The cap exists so that one test process can compare every path with the scalar reference; production code
/// never lowers it (the DOTNET_EnableAVX512 / EnableAVX2 / EnableHWIntrinsic switches do that for a process).
/// </summary>
public static class SimdLevel
{
    /// <summary>Cap on the vector width in bits: 512, 256, 128, or 0 for the scalar reference. For tests only.</summary>
    internal static int MaxBits { get; set; } = 512;

    /// <summary>True when the 512-bit path runs.</summary>
    public static bool Use512 => MaxBits >= 512 && Vector512.IsHardwareAccelerated;

    /// <summary>True when the 256-bit path is allowed.</summary>
    public static bool Use256 => MaxBits >= 256 && Vector256.IsHardwareAccelerated;

    /// <summary>True when the 128-bit path is allowed.</summary>
    public static bool Use128 => MaxBits >= 128 && Vector128.IsHardwareAccelerated;

    /// <summary>A short description of the path in use, e.g. for benchmark reports.</summary>
    public static string Describe() =>
        Use512 ? "512-bit (AVX-512)" : Use256 ? "256-bit (AVX2)" : Use128 ? "128-bit" : "scalar";
}
