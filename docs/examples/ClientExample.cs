using LshCluster.Client;
using LshCluster.Protocol.V1;
using Microsoft.Extensions.DependencyInjection;

/// <summary>The .NET example of docs/api.md, which shows this file as it is; ApiExamplesTests runs it against a silo.</summary>
public static class ClientExample
{
    /// <summary>Inserts <paramref name="a"/> and its near-duplicate <paramref name="b"/>, prints the verdict and the cluster's size.</summary>
    public static async Task RunAsync(Uri silo, string? apiKey, float[] a, float[] b, TextWriter output)
    {
        await using var services = new ServiceCollection()
            .AddLshClusterClient(o =>
            {
                o.Seeds.Add(silo);   // any silo: the client reads the scheme and the shard map from it
                o.ApiKey = apiKey;   // e.g. from $LSHC_API_KEY; null for a cluster without keys
            })
            .BuildServiceProvider();
        var client = services.GetRequiredService<LshClusterClient>();

        // Hashed here, sent to the silos owning each vector's home shard, retried within the deadline. The second
        // call finds the first vector: a cluster's canonical member is its earliest.
        await client.InsertAsync([new Vector { Id = "n1", Values = { a } }]);
        var results = await client.InsertAsync([new Vector { Id = "n2", Values = { b } }]);
        output.WriteLine(results[0].Verdict.Kind);          // Duplicate
        output.WriteLine(results[0].Verdict.CanonicalId);   // n1

        var cluster = await client.GetClusterAsync(new GetClusterRequest { Id = "n2" });
        output.WriteLine(cluster.Size);                     // 2
    }
}
