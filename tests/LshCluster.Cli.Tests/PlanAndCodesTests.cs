using System.Buffers.Binary;
using System.Text.Json;

namespace LshCluster.Cli.Tests;

public sealed class PlanAndCodesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lshc-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Plan_prints_k_L_probes_recall_and_candidates()
    {
        var (code, output, error) = Lshc.Run(null, "plan", "--dim", "784", "--threshold", "0.98", "--recall", "0.99");

        Assert.True(code == 0, error);
        Assert.Matches(@"k \(hashes per table\)\s+\d", output);
        Assert.Matches(@"L \(tables\)\s+\d+", output);
        Assert.Matches(@"probes per table\s+\d+", output);
        var recall = double.Parse(System.Text.RegularExpressions.Regex.Match(output, @"predicted recall\s+([0-9.]+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(recall, 0.99, 1.0);
        Assert.Matches(@"candidates per insert\s+[0-9.E+-]+", output);

        // The runners-up: each once, both families among them.
        var options = output.Split('\n').SkipWhile(l => !l.Contains("alternatives", StringComparison.Ordinal)).Skip(1)
            .Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        Assert.InRange(options.Count, 2, 14);
        Assert.Equal(options.Count, options.Distinct().Count());
        Assert.Contains(options, o => o.StartsWith("sign-bands", StringComparison.Ordinal));
        Assert.Contains(options, o => o.StartsWith("cross-polytope", StringComparison.Ordinal));
    }

    [Fact]
    public void Codes_hashes_a_file_with_the_planned_scheme_and_reports_bad_rows()
    {
        var scheme = Path.Combine(_dir, "s.lshs");
        var (planCode, _, planError) = Lshc.Run(null, "plan", "--dim", "4", "--threshold", "0.9", "--recall", "0.9", "--max-probes", "1", "--out", scheme);
        Assert.True(planCode == 0, planError);

        const string Input = """
            {"id": "a", "vector": [1, 2, 3, 4]}
            {"id": "b", "vector": [1, 2, 3, 4.0001]}
            {"id": "c", "vector": [0, 0, 0, 0]}
            """;
        var (code, output, error) = Lshc.Run(Input, "codes", "--scheme", scheme, "-");

        Assert.Equal(2, code);
        Assert.Contains("id c: vector is all zeros", error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(["a", "b"], lines.Select(l => l.GetProperty("id").GetString()));
        // Nearly identical vectors share every bucket.
        Assert.Equal(lines[0].GetProperty("keys").GetRawText(), lines[1].GetProperty("keys").GetRawText());
    }

    [Fact]
    public void Codes_reads_fvecs()
    {
        var scheme = Path.Combine(_dir, "s.lshs");
        Assert.Equal(0, Lshc.Run(null, "plan", "--dim", "3", "--threshold", "0.9", "--recall", "0.9", "--out", scheme).ExitCode);
        var file = Path.Combine(_dir, "v.fvecs");
        var bytes = new byte[2 * 16];
        for (var row = 0; row < 2; row++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(row * 16), 3);
            for (var i = 0; i < 3; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan((row * 16) + 4 + (i * 4)), row + i + 1);
            }
        }

        File.WriteAllBytes(file, bytes);

        var (code, output, error) = Lshc.Run(null, "codes", "--scheme", scheme, file);

        Assert.True(code == 0, error);
        Assert.Equal(2, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Theory]
    [InlineData("1.5", "0.99", "threshold")]
    [InlineData("0.9", "1", "recall")]
    public void Plan_refuses_bad_arguments_naming_the_field(string threshold, string recall, string field)
    {
        var (code, _, error) = Lshc.Run(null, "plan", "--dim", "100", "--threshold", threshold, "--recall", recall);

        Assert.Equal(2, code);
        Assert.Contains(field + ":", error);
    }

    [Fact]
    public void A_value_that_is_not_a_number_is_reported_at_its_index()
    {
        var scheme = Path.Combine(_dir, "s.lshs");
        Assert.Equal(0, Lshc.Run(null, "plan", "--dim", "3", "--threshold", "0.9", "--recall", "0.9", "--out", scheme).ExitCode);

        var (code, _, error) = Lshc.Run("{\"vector\":[1,\"x\",3]}\n", "codes", "--scheme", scheme, "-");

        Assert.Equal(2, code);
        Assert.Contains("line 1: vector[1] is not a number", error);
    }

    [Fact]
    public void A_corrupted_scheme_file_is_refused_with_the_reason()
    {
        var scheme = Path.Combine(_dir, "bad.lshs");
        File.WriteAllText(scheme, "garbage");

        var (code, _, error) = Lshc.Run("{\"vector\":[1]}\n", "codes", "--scheme", scheme, "-");

        Assert.Equal(2, code);
        Assert.Contains("not an LSH scheme", error);
    }
}
