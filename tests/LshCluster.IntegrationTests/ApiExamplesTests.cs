using LshCluster.Silo.Tests;
using LshCluster.Storage.Tests;

namespace LshCluster.IntegrationTests;

/// <summary>The gRPC (Python grpcio) and .NET examples of docs/api.md, run as written against a silo that asks for keys.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ApiExamplesTests(PostgresServer server)
{
    private const string Key = "examples-producer-key-91d3";

    [Fact]
    public async Task The_grpc_and_dotnet_examples_run_and_print_what_their_comments_say()
    {
        await using var cluster = await ClusterHarness.CreateAsync(server, ClusterHarness.TestScheme());
        cluster.SiloEnvironment["LSHC_API_KEYS"] = $"examples:producer:{Key}";
        cluster.SiloEnvironment["LSHC_CLUSTER_SECRET"] = "examples-cluster-secret-0042";
        var silo = await cluster.StartSiloAsync();
        await cluster.WaitForOwnersAsync(1, TimeSpan.FromSeconds(30));

        // Python: the stubs step from the repository's root (here a directory whose src/ is the repository's), then the program.
        var directory = Directory.CreateTempSubdirectory("lshc-grpc-example-").FullName;
        try
        {
            Directory.CreateSymbolicLink(Path.Combine(directory, "src"), Path.Combine(ClusterHarness.RepositoryRoot(), "src"));
            // Debian's python3 (with python3-grpcio and python3-grpc-tools) first, as on the machines the document is for.
            var environment = new Dictionary<string, string> { ["LSHC_API_KEY"] = Key, ["PATH"] = "/usr/bin:" + Environment.GetEnvironmentVariable("PATH") };
            await DocExamples.RunAsync("bash", DocExamples.Block("grpc-stubs"), environment, directory, "-e");
            var program = DocExamples.Block("grpc-python").Replace("\"127.0.0.1:7001\"", $"\"{new Uri(silo.Address).Authority}\"", StringComparison.Ordinal);
            var printed = await DocExamples.RunAsync("/usr/bin/python3", program, environment, directory, "-");

            Assert.Equal(["VERDICT_KIND_DUPLICATE", "g1", "['g1', 'g2']", "StatusCode.NOT_FOUND"], printed.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }

        // .NET: the document shows docs/examples/ClientExample.cs as it is, and that file runs.
        var file = await File.ReadAllTextAsync(Path.Combine(ClusterHarness.RepositoryRoot(), "docs", "examples", "ClientExample.cs"));
        Assert.Equal(file, DocExamples.Block("dotnet"));
        var a = Enumerable.Range(0, ClusterHarness.Dimension).Select(i => (float)Math.Cos(i)).ToArray();
        var b = a.Select((v, i) => i == 0 ? v : v * 1.001f).ToArray();
        using var output = new StringWriter();
        await ClientExample.RunAsync(new Uri(silo.Address), Key, a, b, output);

        Assert.Equal(["Duplicate", "n1", "2"], output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }
}
