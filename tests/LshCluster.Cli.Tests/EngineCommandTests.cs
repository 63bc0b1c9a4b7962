namespace LshCluster.Cli.Tests;

/// <summary>The engine commands through the real lshc process, as scripts use them.</summary>
public sealed class EngineCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lshc-cli-").FullName;

    private string Store => $"sqlite:{Path.Combine(_directory, "cli.db")}";

    [Fact]
    public void The_store_comes_from_LSHC_STORE_when_not_given_and_its_absence_is_named()
    {
        var environment = new Dictionary<string, string?> { ["LSHC_STORE"] = Store };

        var created = Lshc.Run(null, environment, "create", "--dim", "4", "--rungs", "0.9");
        var ingested = Lshc.Run("{\"id\":\"a\",\"vector\":[1,2,3,4]}\n", environment, "ingest", "-");
        var stats = Lshc.Run(null, environment, "stats");
        var missing = Lshc.Run(null, "create", "--dim", "4", "--rungs", "0.9");

        Assert.True(created.ExitCode == 0, created.Error);
        Assert.True(ingested.ExitCode == 0, ingested.Error);
        Assert.StartsWith("vectors 1 ", stats.Out, StringComparison.Ordinal);
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("LSHC_STORE", missing.Error + missing.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_items_are_reported_with_field_and_reason_while_the_good_ones_go_in()
    {
        Create(dim: 4);
        var input = string.Join('\n',
            """{"id":"ok1","vector":[1,0,0,0]}""",
            """{"id":"bad-dim","vector":[1,0,0]}""",
            """{"id":"zero","vector":[0,0,0,0]}""",
            """{"id":"","vector":[0,1,0,0]}""",
            """{"id":"inf","vector":[1e39,0,0,0]}""",
            $$"""{"id":"{{new string('x', 300)}}","vector":[0,1,0,0]}""",
            """{"id":"ok2","vector":[0,0,1,0]}""",
            """{"id":"broken","vector":[0,0,""",
            """{"id":"ok3","vector":[0,0,0,1]}""");

        var (code, output, error) = Lshc.Run(input, "ingest", "--store", Store, "-");

        Assert.Equal(3, code);
        Assert.Contains("ingested 3 vectors", output, StringComparison.Ordinal);
        Assert.Contains("item 1 (id 'bad-dim') refused: vector: expected 4 values, got 3", error, StringComparison.Ordinal);
        Assert.Contains("item 2 (id 'zero') refused: vector is all zeros", error, StringComparison.Ordinal);
        Assert.Contains("item 3 (id '') refused: id is empty", error, StringComparison.Ordinal);
        Assert.Contains("item 4 (id 'inf') refused: vector[0] is +infinity", error, StringComparison.Ordinal);
        Assert.Contains("refused: id has 300 characters", error, StringComparison.Ordinal);
        Assert.Contains("line 8 refused: -: line 8 is not valid JSON", error, StringComparison.Ordinal);
        Assert.Contains("vectors 3 ", Lshc.Run(null, "stats", "--store", Store).Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Ingest_query_clusters_and_export_agree_on_a_duplicate_pair()
    {
        Create(dim: 4);
        // a goes in first, on its own: within one batch, which member becomes canonical follows the ids (ADR 0002).
        var first = Lshc.Run("""{"id":"a","vector":[1,0.01,0,0]}""", "ingest", "--store", Store, "-");
        var input = """
            {"id":"b","vector":[1,0.02,0,0]}
            {"id":"c","vector":[0,0,1,0]}
            """;

        var ingest = Lshc.Run(input, "ingest", "--store", Store, "-", "--verdicts");
        var query = Lshc.Run(null, "query", "--store", Store, "--id", "b");
        var clusters = Lshc.Run(null, "clusters", "--store", Store);
        var export = Lshc.Run(null, "export", "--store", Store, "--rung", "0.99", "--format", "clusters");
        var resend = Lshc.Run("""{"id":"b","vector":[0,1,0,0]}""", "ingest", "--store", Store, "-", "--verdicts");

        Assert.Equal(0, first.ExitCode);
        Assert.Equal(0, ingest.ExitCode);
        Assert.Contains("\"external_id\":\"b\",", ingest.Out, StringComparison.Ordinal);
        Assert.Contains("\"kind\":1", ingest.Out, StringComparison.Ordinal);
        Assert.Contains("\"canonical\":\"a\"", query.Out, StringComparison.Ordinal);
        Assert.Contains("size      2  canonical a  members a b", clusters.Out, StringComparison.Ordinal);
        Assert.Equal("a b", export.Out.Trim());
        Assert.Contains("\"repeated\":true", resend.Out, StringComparison.Ordinal);
        Assert.Contains("\"canonical\":\"a\"", resend.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Ingest_keeps_as_many_batches_in_flight_as_asked_and_refuses_a_depth_out_of_range()
    {
        Create(dim: 4);
        var input = string.Join('\n', Enumerable.Range(0, 50).Select(i => $$"""{"id":"v{{i}}","vector":[1,{{i}},2,3]}"""));

        var deep = Lshc.Run(input, "ingest", "--store", Store, "-", "--batch", "7", "--in-flight", "4");
        var zero = Lshc.Run(input, "ingest", "--store", Store, "-", "--in-flight", "0");

        Assert.Equal(0, deep.ExitCode);
        Assert.Contains("ingested 50 vectors", deep.Out, StringComparison.Ordinal);
        Assert.Equal(2, zero.ExitCode);
        Assert.Contains("--in-flight must be 1 … 16; got 0", zero.Error, StringComparison.Ordinal);
        Assert.Contains("vectors 50 ", Lshc.Run(null, "stats", "--store", Store).Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Delete_removes_what_is_stored_says_what_was_not_and_refuses_an_empty_id()
    {
        Create(dim: 4);
        Lshc.Run("""{"id":"a","vector":[1,0.01,0,0]}""", "ingest", "--store", Store, "-");
        Lshc.Run("""{"id":"b","vector":[1,0.02,0,0]}""", "ingest", "--store", Store, "-");

        var delete = Lshc.Run(null, "delete", "--store", Store, "a", "nobody");
        var empty = Lshc.Run(null, "delete", "--store", Store, "b", "");
        var export = Lshc.Run(null, "export", "--store", Store, "--rung", "0.99", "--format", "clusters", "--all");

        Assert.Equal(0, delete.ExitCode);
        Assert.Equal(["deleted     a", "not stored  nobody"], delete.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(2, empty.ExitCode);
        Assert.Contains("ids[1] is empty", empty.Error, StringComparison.Ordinal);
        Assert.Equal("b", export.Out.Trim());
        Assert.Contains("vectors 1 ", Lshc.Run(null, "stats", "--store", Store).Out, StringComparison.Ordinal);
    }

    [Fact]
    public void A_chained_cluster_is_marked_and_exports_its_core_without_the_far_member()
    {
        // a ~ b and b ~ c above 0.99, a ~ c at 0.981: one cluster at rung 0.99, whose core (within 0.99 of a) is a, b.
        Create(dim: 4);
        foreach (var line in new[] { """{"id":"a","vector":[1,0,0,0]}""", """{"id":"b","vector":[1,0.1,0,0]}""", """{"id":"c","vector":[1,0.2,0,0]}""" })
        {
            Assert.Equal(0, Lshc.Run(line, "ingest", "--store", Store, "-").ExitCode);
        }

        var clusters = Lshc.Run(null, "clusters", "--store", Store, "--rung", "0.99");
        var whole = Lshc.Run(null, "export", "--store", Store, "--rung", "0.99", "--format", "clusters");
        var cores = Lshc.Run(null, "export", "--store", Store, "--rung", "0.99", "--format", "clusters", "--cores");
        var coresAndRest = Lshc.Run(null, "export", "--store", Store, "--rung", "0.99", "--format", "clusters", "--cores", "--all");

        Assert.Contains("size      3  canonical a  members a b c  coherence 0.981 chained", clusters.Out, StringComparison.Ordinal);
        Assert.Equal("a b c", whole.Out.Trim());
        Assert.Equal("a b", cores.Out.Trim());
        Assert.Equal(["a b", "c"], coresAndRest.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Serve_answers_the_dotnet_client_over_grpc_beside_rest()
    {
        Create(dim: 4);
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "lshc.dll"), "serve", "--store", Store, "--listen", "127.0.0.1:0" })
        {
            start.ArgumentList.Add(a);
        }

        using var serve = System.Diagnostics.Process.Start(start)!;
        try
        {
            // After the log lines: "serving on REST-URL", then "serving gRPC on GRPC-URL".
            var lines = new List<string>();
            while (lines.LastOrDefault()?.StartsWith("serving gRPC on ", StringComparison.Ordinal) != true)
            {
                lines.Add(await serve.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)) ?? throw new InvalidOperationException($"lshc serve ended:\n{string.Join('\n', lines)}"));
            }

            Assert.StartsWith("serving on http://127.0.0.1:", lines[^2], StringComparison.Ordinal);
            var url = lines[^1]["serving gRPC on ".Length..];
            Assert.StartsWith("http://127.0.0.1:", url, StringComparison.Ordinal);

            var ingest = Lshc.Run("{\"id\":\"a\",\"vector\":[1,0,0,0]}\n{\"id\":\"b\",\"vector\":[1,0.01,0,0]}\n", "ingest", "--server", url, "-", "--verdicts");
            var stats = Lshc.Run(null, "stats", "--server", url);

            Assert.True(ingest.ExitCode == 0, ingest.Error);
            Assert.Contains("\"best_match\":\"a\"", ingest.Out, StringComparison.Ordinal);
            Assert.True(stats.ExitCode == 0, stats.Error);
            Assert.StartsWith("vectors 2  duplicates 1", stats.Out, StringComparison.Ordinal);
        }
        finally
        {
            serve.Kill(entireProcessTree: true);
            await serve.WaitForExitAsync();
        }
    }

    [Fact]
    public void Watch_prints_the_feed_as_json_lines_and_resumes_after_a_cursor()
    {
        Create(dim: 4);
        Lshc.Run("""{"id":"a","vector":[1,0,0,0]}""", "ingest", "--store", Store, "-");
        Lshc.Run("""{"id":"b","vector":[1,0.01,0,0]}""", "ingest", "--store", Store, "-");
        Lshc.Run(null, "delete", "--store", Store, "a");

        var all = Lshc.Run(null, "watch", "--store", Store);
        var lines = all.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!).ToList();
        var rest = Lshc.Run(null, "watch", "--store", Store, "--after", (string)lines[0]["cursor"]!);
        var badRetention = Lshc.Run(null, "serve", "--store", Store, "--feed-retention", "3x");

        Assert.Equal(0, all.ExitCode);
        Assert.Equal(["verdict", "merge", "merge", "verdict", "deletion"], lines.Select(l => (string)l["kind"]!));
        Assert.Equal(["a", "b", "a"], lines.Where(l => l["id"] is not null).Select(l => (string)l["id"]!));
        Assert.Equal(all.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1), rest.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.NotEqual(0, badRetention.ExitCode);
        Assert.Contains("--feed-retention: '3x' is not a duration", badRetention.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_NaN_in_a_binary_file_is_refused_naming_the_value_and_the_rest_go_in()
    {
        Create(dim: 4);
        var file = Path.Combine(_directory, "nan.fvecs");
        using (var writer = new BinaryWriter(File.Create(file)))
        {
            foreach (var row in new[] { new[] { 1f, 0, 0, 0 }, new[] { 0f, float.NaN, 0, 0 }, new[] { 0f, 0, 1, 0 } })
            {
                writer.Write(4);
                foreach (var value in row)
                {
                    writer.Write(value);
                }
            }
        }

        var (code, output, error) = Lshc.Run(null, "ingest", "--store", Store, file);

        Assert.Equal(3, code);
        Assert.Contains("item 1 (id '1') refused: vector[1] is NaN", error, StringComparison.Ordinal);
        Assert.Contains("ingested 2 vectors", output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_batch_larger_than_the_limit_is_refused_naming_the_limit()
    {
        Create(dim: 4);
        var input = string.Join('\n', Enumerable.Range(0, 3).Select(i => $$"""{"id":"v{{i}}","vector":[1,{{i}},0,0]}"""));

        var (code, _, error) = Lshc.Run(input, "ingest", "--store", Store, "-", "--batch", "20000");

        Assert.Equal(2, code);
        Assert.Contains("--batch must be 1 … 10000: a batch holds at most 10000 vectors; got 20000", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Fvecs_with_an_ids_file_ingest_under_those_ids_and_a_vector_file_query_finds_them()
    {
        Create(dim: 4);
        var file = Path.Combine(_directory, "three.fvecs");
        WriteFvecs(file, [1f, 0.01f, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]);
        var ids = Path.Combine(_directory, "ids.txt");
        File.WriteAllLines(ids, ["shirt-17", "shoe-4", "bag-9"]);
        var probe = Path.Combine(_directory, "probe.fvecs");
        WriteFvecs(probe, [1f, 0.02f, 0, 0]);

        var ingest = Lshc.Run(null, "ingest", "--store", Store, file, "--ids", ids);
        var byId = Lshc.Run(null, "query", "--store", Store, "--id", "shoe-4");
        var byVector = Lshc.Run(null, "query", "--store", Store, "--vector-file", probe);
        var shortIds = Path.Combine(_directory, "ids-short.txt");
        File.WriteAllLines(shortIds, ["a", "b"]);
        var tooFewIds = Lshc.Run(null, "ingest", "--store", Store, file, "--ids", shortIds);

        Assert.Equal(0, ingest.ExitCode);
        Assert.Contains("\"external_id\":\"shoe-4\"", byId.Out, StringComparison.Ordinal);
        Assert.Contains("\"external_id\":\"shirt-17\"", byVector.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("shoe-4", byVector.Out, StringComparison.Ordinal);
        Assert.Equal(2, tooFewIds.ExitCode);
        Assert.Contains("--ids: the file has 2 ids but the vectors go on", tooFewIds.Error, StringComparison.Ordinal);
    }

    private static void WriteFvecs(string path, params float[][] rows)
    {
        using var writer = new BinaryWriter(File.Create(path));
        foreach (var row in rows)
        {
            writer.Write(row.Length);
            foreach (var value in row)
            {
                writer.Write(value);
            }
        }
    }

    [Fact]
    public void A_store_string_of_an_unknown_kind_is_refused_naming_the_option()
    {
        var (code, _, error) = Lshc.Run(null, "stats", "--store", "mysql:nope");

        Assert.Equal(2, code);
        Assert.Contains("--store", error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_rung_is_refused_naming_the_rungs()
    {
        Create(dim: 4);

        var (code, _, error) = Lshc.Run(null, "clusters", "--store", Store, "--rung", "0.5");

        Assert.Equal(2, code);
        Assert.Contains("0.5 is not a rung of this cluster; its rungs are 0.99, 0.95", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Demo_on_the_planted_set_reports_throughput_clusters_and_pair_recall()
    {
        var (code, output, error) = Lshc.Run(null, "demo", "--synthetic", "--limit", "3000", "--data", Path.Combine(_directory, "demo"));

        Assert.True(code == 0, error);
        Assert.Contains("vectors/s", output, StringComparison.Ordinal);
        Assert.Contains("largest clusters at rung 0.99", output, StringComparison.Ordinal);
        Assert.Matches(@"rung 0\.95: pair recall (0\.99|1\.00)\d*, pair precision 1\.0000", output);
    }

    private void Create(int dim)
    {
        var (code, _, error) = Lshc.Run(null, "create", "--store", Store, "--dim", dim.ToString(System.Globalization.CultureInfo.InvariantCulture), "--rungs", "0.99,0.95", "--shards", "16");
        Assert.True(code == 0, error);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
