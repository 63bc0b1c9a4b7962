using System.Diagnostics;

namespace LshCluster.Cli.Tests;

/// <summary>Runs the built lshc as a separate process, the way users and scripts do.</summary>
public static class Lshc
{
    public static (int ExitCode, string Out, string Error) Run(string? stdin, params string[] args) => Run(stdin, null, args);

    /// <summary>Runs lshc with <paramref name="environment"/> added to (null values: removed from) its environment.</summary>
    public static (int ExitCode, string Out, string Error) Run(string? stdin, IReadOnlyDictionary<string, string?>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        start.Environment.Remove("LSHC_STORE");
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            start.Environment[name] = value;
        }

        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "lshc.dll"));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }

        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"lshc {string.Join(' ', args)} did not finish");
        }

        return (process.ExitCode, output.Result, error.Result);
    }
}
