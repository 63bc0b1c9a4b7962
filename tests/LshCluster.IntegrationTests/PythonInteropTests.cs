using System.Diagnostics;
using LshCluster.Storage.Tests;
using Xunit.Abstractions;

namespace LshCluster.IntegrationTests;

/// <summary>A real non-.NET client: Debian's Python grpcio, with stubs generated from our .proto, against two silos.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PythonInteropTests(PostgresServer server, ITestOutputHelper output)
{
    [Fact]
    public async Task Python_grpcio_inserts_and_queries_through_a_silo()
    {
        await using var cluster = await ClusterHarness.CreateAsync(server, ClusterHarness.TestScheme());
        var gateway = await cluster.StartSiloAsync();
        await cluster.StartSiloAsync();
        await cluster.WaitForOwnersAsync(2, TimeSpan.FromSeconds(30));

        var script = Path.Combine(ClusterHarness.RepositoryRoot(), "tests", "interop", "python_client.py");
        var start = new ProcessStartInfo("/usr/bin/python3", [script, gateway.Address, ClusterHarness.Dimension.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var python = Process.Start(start)!;
        var stdout = python.StandardOutput.ReadToEndAsync();
        var stderr = python.StandardError.ReadToEndAsync();
        await python.WaitForExitAsync();
        output.WriteLine(await stdout);
        output.WriteLine(await stderr);
        Assert.True(python.ExitCode == 0, $"the Python client failed:\n{await stdout}\n{await stderr}\nsilo:\n{gateway.Output}");
        Assert.Contains("python interop: all checks passed", await stdout, StringComparison.Ordinal);
    }
}
