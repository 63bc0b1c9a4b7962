using System.Runtime.Intrinsics;
using LshCluster.Core.Kernels;

namespace LshCluster.Core.Tests.Kernels;

/// <summary>CI re-runs the hashing tests under the runtime's ISA switches; this proves each switch took effect.</summary>
public class SimdSwitchTests
{
    [Fact]
    public void The_runtime_switches_select_the_path_the_CI_run_intends()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_EnableHWIntrinsic") == "0")
        {
            Assert.False(Vector128.IsHardwareAccelerated);
            Assert.Equal("scalar", SimdLevel.Describe());
        }
        else if (Environment.GetEnvironmentVariable("DOTNET_EnableAVX2") == "0")
        {
            Assert.False(Vector256.IsHardwareAccelerated);
            Assert.StartsWith("128", SimdLevel.Describe());
        }
        else if (Environment.GetEnvironmentVariable("DOTNET_EnableAVX512") == "0")
        {
            Assert.False(Vector512.IsHardwareAccelerated);
            Assert.StartsWith(Vector256.IsHardwareAccelerated ? "256" : "128", SimdLevel.Describe());
        }
        else
        {
            Assert.Equal(Vector512.IsHardwareAccelerated, SimdLevel.Use512);
        }
    }
}
