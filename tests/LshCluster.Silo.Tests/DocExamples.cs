using System.Diagnostics;
using System.Text.RegularExpressions;

namespace LshCluster.Silo.Tests;

/// <summary>
/// The runnable examples of docs/api.md: each is the fenced block after an <c>&lt;!-- example: NAME --&gt;</c> line,
/// run as written (only the server's address is put in). Shared by Silo.Tests (REST) and IntegrationTests (gRPC, .NET).
/// </summary>
public static class DocExamples
{
    public static string Document => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "docs", "api.md"));

    public static string Block(string name)
    {
        var match = Regex.Match(Document, $"<!-- example: {Regex.Escape(name)} -->\\n```\\w+\\n(.*?)```", RegexOptions.Singleline);
        Assert.True(match.Success, $"docs/api.md has no example '{name}'");
        return match.Groups[1].Value;
    }

    /// <summary>Runs <paramref name="script"/> on <paramref name="program"/>'s standard input; returns what it printed.</summary>
    public static async Task<string> RunAsync(string program, string script, IReadOnlyDictionary<string, string> environment, string? workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo(program, arguments) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        if (workingDirectory is not null)
        {
            start.WorkingDirectory = workingDirectory;
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(script);
        process.StandardInput.Close();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{program} exited {process.ExitCode}: {await stderr}\n{await stdout}");
        return await stdout;
    }
}
