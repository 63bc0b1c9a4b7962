using LshCluster.Core.Hashing;

namespace LshCluster.Silo.Tests;

/// <summary>The REST examples of docs/api.md (curl and Python), run as written against the embedded server with keys.</summary>
public sealed class ApiDocsTests : IAsyncLifetime
{
    private const string Key = "docs-producer-key-6c2f";
    private static readonly LshScheme Scheme = TempStores.Plan(4, [0.99f, 0.9f], shards: 16);
    private static readonly Dictionary<string, string> WithKey = new() { ["LSHC_API_KEY"] = Key };
    private ServedStore _served = null!;

    public async Task InitializeAsync() => _served = await ServedStore.StartAsync(Scheme, Security.Credentials.Of($"docs:producer:{Key}"));

    public async Task DisposeAsync() => await _served.DisposeAsync();

    [Fact]
    public async Task The_curl_examples_run_and_find_the_duplicate()
    {
        var script = DocExamples.Block("rest-curl").Replace("U=http://127.0.0.1:7002", $"U={_served.Server.Address}", StringComparison.Ordinal);

        var output = await DocExamples.RunAsync("bash", script, WithKey, null, "-e");

        Assert.Contains("\"kind\":\"duplicate\"", output, StringComparison.Ordinal);
        Assert.Contains("\"canonical\":\"a\"", output, StringComparison.Ordinal);
        Assert.Contains("\"vectors\":2", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_python_example_runs_and_prints_what_its_comments_say()
    {
        var script = DocExamples.Block("rest-python").Replace("U = \"http://127.0.0.1:7002\"", $"U = \"{_served.Server.Address}\"", StringComparison.Ordinal);

        var output = await DocExamples.RunAsync("/usr/bin/python3", script, WithKey, null, "-");

        Assert.Equal(["duplicate", "p1", "2"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
