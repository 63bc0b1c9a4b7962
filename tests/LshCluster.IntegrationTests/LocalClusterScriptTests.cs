using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace LshCluster.IntegrationTests;

/// <summary>
/// The README's cluster walk-through, as a user types it: <c>deploy/local-cluster.sh up 3</c>, <c>lshc ingest --server</c>,
/// <c>lshc stats/export --server</c>, <c>add</c>, <c>remove</c>, <c>status</c>, <c>down</c>; the clusters it reports equal
/// those of <c>lshc ingest --store</c> (embedded) on the same file.
/// </summary>
public sealed partial class LocalClusterScriptTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_script_runs_a_three_silo_cluster_that_lshc_streams_into_scales_and_stops()
    {
        var root = ClusterHarness.RepositoryRoot();
        var state = Directory.CreateTempSubdirectory("lshc-local-cluster-");
        var environment = new Dictionary<string, string>
        {
            ["LSHC_CLUSTER_DIR"] = state.FullName,
            ["LSHC_DIM"] = "64",
            ["LSHC_RUNGS"] = "0.99,0.98,0.95",
        };
        var script = Path.Combine(root, "deploy", "local-cluster.sh");
        try
        {
            var up = await RunAsync(script, ["up", "3"], environment);
            var silos = SiloLine().Matches(up).Select(m => m.Groups[1].Value).ToList();
            Assert.Equal(3, silos.Count);

            var data = Path.Combine(state.FullName, "vectors.fvecs");
            WriteFvecs(data, ClusterHarness.Rounds(originals: 800, rounds: 3, copiesPerRound: 200, seed: 31).SelectMany(r => r).ToList());
            var ingested = await LshcAsync(["ingest", "--server", silos[1], data]);
            Assert.Contains("ingested 1,200 vectors", ingested, StringComparison.Ordinal);
            Assert.Contains("0 refused", ingested, StringComparison.Ordinal);

            var added = await RunAsync(script, ["add"], environment);
            var fourth = SiloLine().Match(added).Groups[1].Value;
            Assert.StartsWith("http://127.0.0.1:", fourth, StringComparison.Ordinal);
            await RunAsync(script, ["remove", silos[0]], environment);
            var status = await RunAsync(script, ["status"], environment);
            output.WriteLine(status);
            // A live silo's /v1/silos: the drained silo is gone from the active ones (Orleans records it dead, hosting
            // nothing), the added one is active.
            var listed = System.Text.Json.Nodes.JsonNode.Parse(status)!.AsArray().ToDictionary(s => (string)s!["address"]!, s => s!);
            Assert.Equal("dead", (string?)listed[silos[0]]["status"]);
            Assert.Equal(0, (int)listed[silos[0]]["shards"]!);
            Assert.Equal("active", (string?)listed[fourth]["status"]);

            var stats = await LshcAsync(["stats", "--server", fourth]);
            Assert.Contains("vectors 1200", stats, StringComparison.Ordinal);
            var fromCluster = await LshcAsync(["export", "--server", silos[2], "--rung", "0.98"]);

            var embedded = $"sqlite:{Path.Combine(state.FullName, "embedded.db")}";
            await LshcAsync(["create", "--store", embedded, "--dim", "64", "--rungs", "0.99,0.98,0.95"]);
            await LshcAsync(["ingest", "--store", embedded, data]);
            var fromEmbedded = await LshcAsync(["export", "--store", embedded, "--rung", "0.98"]);
            Assert.True(Normalise(fromEmbedded).Count > 100, "the data should form clusters");
            var differing = Normalise(fromEmbedded).Except(Normalise(fromCluster)).Concat(Normalise(fromCluster).Except(Normalise(fromEmbedded))).ToList();
            foreach (var id in differing.SelectMany(l => l.Split(' ')).Distinct().Take(6))
            {
                // What each side says of a vector whose cluster differs: the first thing to read when this fails.
                output.WriteLine($"cluster: {await LshcAsync(["query", "--server", fourth, "--id", id, "--rung", "0.98"])}embedded: {await LshcAsync(["query", "--store", embedded, "--id", id, "--rung", "0.98"])}");
            }

            if (differing.Count > 0)
            {
                // Whether the store or the silos' memory differs: the silos drained, the store's own clusters.
                foreach (var silo in new[] { silos[1], silos[2], fourth })
                {
                    await RunAsync(script, ["remove", silo], environment, check: false);
                }

                var postgres = PostgresLine().Match(up).Groups[1].Value;
                var fromStore = await LshcAsync(["export", "--store", postgres, "--rung", "0.98"]);
                output.WriteLine($"the store's clusters {(Normalise(fromStore).SequenceEqual(Normalise(fromEmbedded)) ? "equal" : "differ from")} the embedded engine's; " +
                    $"they {(Normalise(fromStore).SequenceEqual(Normalise(fromCluster)) ? "equal" : "differ from")} what the silos exported");
                output.WriteLine($"only in the store: {string.Join(" | ", Normalise(fromStore).Except(Normalise(fromEmbedded)))}");
                output.WriteLine($"only embedded: {string.Join(" | ", Normalise(fromEmbedded).Except(Normalise(fromStore)))}");
            }

            Assert.Equal(Normalise(fromEmbedded), Normalise(fromCluster));
        }
        finally
        {
            output.WriteLine(await RunAsync(script, ["down"], environment, check: false));
            if (state.Exists)
            {
                state.Delete(recursive: true);
            }
        }
    }

    private static List<string> Normalise(string export) =>
        [.. export.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => string.Join(' ', l.Split(' ').Order(StringComparer.Ordinal))).Order(StringComparer.Ordinal)];

    private static void WriteFvecs(string path, List<Protocol.V1.Vector> vectors)
    {
        using var file = new BinaryWriter(File.Create(path));
        foreach (var v in vectors)
        {
            file.Write(v.Values.Count);
            foreach (var x in v.Values)
            {
                file.Write(x);
            }
        }
    }

    private Task<string> LshcAsync(string[] arguments) =>
        RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "lshc.dll"), .. arguments], new Dictionary<string, string>());

    private async Task<string> RunAsync(string program, string[] arguments, Dictionary<string, string> environment, bool check = true)
    {
        var start = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        var text = await stdout + await stderr;
        output.WriteLine($"$ {Path.GetFileName(program)} {string.Join(' ', arguments)}\n{text}");
        if (check)
        {
            Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} exited {process.ExitCode}:\n{text}");
        }

        return await stdout;
    }

    [GeneratedRegex(@"^silo: (\S+)", RegexOptions.Multiline)]
    private static partial Regex SiloLine();

    [GeneratedRegex(@"^postgres: (\S+)", RegexOptions.Multiline)]
    private static partial Regex PostgresLine();
}
