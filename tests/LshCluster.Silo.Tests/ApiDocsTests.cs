using System.Diagnostics;
using System.Text.RegularExpressions;
using LshCluster.Core.Hashing;

namespace LshCluster.Silo.Tests;

/// <summary>The curl and Python examples of docs/api.md, run as written against the embedded server.</summary>
public sealed partial class ApiDocsTests : IAsyncLifetime
{
    private static readonly LshScheme Scheme = TempStores.Plan(4, [0.99f, 0.9f], shards: 16);
    private ServedStore _served = null!;

    public async Task InitializeAsync() => _served = await ServedStore.StartAsync(Scheme);

    public async Task DisposeAsync() => await _served.DisposeAsync();

    [Fact]
    public async Task The_curl_examples_run_and_find_the_duplicate()
    {
        var script = Block("sh").Replace("U=http://127.0.0.1:7002", $"U={_served.Server.Address}", StringComparison.Ordinal);

        var output = await RunAsync("bash", script, "-e");

        Assert.Contains("\"kind\":\"duplicate\"", output, StringComparison.Ordinal);
        Assert.Contains("\"canonical\":\"a\"", output, StringComparison.Ordinal);
        Assert.Contains("\"vectors\":2", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_python_example_runs_and_prints_what_its_comments_say()
    {
        var script = Block("python").Replace("U = \"http://127.0.0.1:7002\"", $"U = \"{_served.Server.Address}\"", StringComparison.Ordinal);

        var output = await RunAsync("/usr/bin/python3", script, "-");

        Assert.Equal(["duplicate", "p1", "2"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    // The first fenced block of that language in docs/api.md.
    private static string Block(string language)
    {
        var document = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "docs", "api.md"));
        var match = Regex.Match(document, $"```{language}\\n(.*?)```", RegexOptions.Singleline);
        Assert.True(match.Success, $"docs/api.md has no ```{language} block");
        return match.Groups[1].Value;
    }

    private static async Task<string> RunAsync(string program, string script, string argument)
    {
        using var process = Process.Start(new ProcessStartInfo(program, [argument]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(script);
        process.StandardInput.Close();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{program} exited {process.ExitCode}: {await stderr}\n{await stdout}");
        return await stdout;
    }
}
