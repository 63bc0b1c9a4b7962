using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace LshCluster.IntegrationTests;

/// <summary>A real <c>lshc silo</c> child process on a free loopback port, with its output kept for diagnostics.</summary>
internal sealed partial class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private bool _disposed;
    private readonly TaskCompletionSource<(string Address, string Identity)> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _http = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SiloProcess(Process process)
    {
        _process = process;
    }

    /// <summary>The URL the silo serves on.</summary>
    public string Address { get; private set; } = string.Empty;

    /// <summary>This incarnation as the silo names it (on Orleans: <c>S</c>IP<c>:</c>silo port<c>:</c>generation).</summary>
    public string Identity { get; private set; } = string.Empty;

    /// <summary>The URL of its REST API, dashboard and metrics (HTTP/1.1).</summary>
    public string HttpAddress { get; private set; } = string.Empty;

    public int Pid => _process.Id;

    public bool HasExited => _disposed || _process.HasExited;

    /// <summary>Everything the silo printed so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts <c>lshc silo</c> with <paramref name="environment"/> added to its environment (credentials).</summary>
    public static async Task<SiloProcess> StartAsync(string connectionString, IReadOnlyDictionary<string, string> environment, params string[] extraArguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "lshc.dll"), "silo", "--store", $"postgres:{connectionString}", "--listen", "127.0.0.1:0" }.Concat(extraArguments))
        {
            start.ArgumentList.Add(a);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start lshc silo");
        var silo = new SiloProcess(process);
        process.OutputDataReceived += (_, e) => silo.Line(e.Data);
        process.ErrorDataReceived += (_, e) => silo.Line(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(silo._listening.Task, exited, Task.Delay(TimeSpan.FromSeconds(60)));
        if (first != silo._listening.Task)
        {
            var output = silo.Output;
            await silo.DisposeAsync();
            throw new InvalidOperationException($"the silo did not start:\n{output}");
        }

        (silo.Address, silo.Identity) = await silo._listening.Task;
        silo.HttpAddress = await silo._http.Task.WaitAsync(TimeSpan.FromSeconds(10));
        return silo;
    }

    private void Line(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }

        if (ListeningLine().Match(line) is { Success: true } m)
        {
            _listening.TrySetResult((m.Groups[1].Value, m.Groups[2].Value));
        }
        else if (HttpLine().Match(line) is { Success: true } h)
        {
            _http.TrySetResult(h.Groups[1].Value);
        }
    }

    public void Signal(string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        kill.WaitForExit();
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancel.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    [GeneratedRegex(@"^silo listening on (\S+) as (\S+)")]
    private static partial Regex ListeningLine();

    [GeneratedRegex(@"^silo http on (\S+) ")]
    private static partial Regex HttpLine();
}
