using System.Diagnostics;
using System.Text.RegularExpressions;

namespace LshCluster.Silo.Tests;

/// <summary>Debian's chromium, headless, for the dashboard tests (also linked into the cluster tests).</summary>
public static class HeadlessChromium
{
    private const string Program = "/usr/bin/chromium";

    public static void RequireInstalled() =>
        Assert.True(File.Exists(Program), "chromium is not installed: scripts/test.sh installs Debian's chromium");

    /// <summary>
    /// Runs it as root too (no sandbox); the virtual time budget lets the page's fetches and timers finish before
    /// <c>--dump-dom</c> prints the page or <c>--screenshot</c> takes it. Returns what it printed. Each run has a
    /// profile of its own (two runs sharing one hand the page to each other and may never exit); a run that has not
    /// ended after 90 s (a loaded CI machine) is killed and tried once more.
    /// </summary>
    public static async Task<string> RunAsync(params string[] arguments)
    {
        for (var attempt = 1; ; attempt++)
        {
            var profile = Directory.CreateTempSubdirectory("lshc-chromium-").FullName;
            try
            {
                var start = new ProcessStartInfo(Program) { RedirectStandardOutput = true, RedirectStandardError = true };
                foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--virtual-time-budget=15000", $"--user-data-dir={profile}" }.Concat(arguments))
                {
                    start.ArgumentList.Add(a);
                }

                using var browser = Process.Start(start)!;
                var stdout = browser.StandardOutput.ReadToEndAsync();
                var stderr = browser.StandardError.ReadToEndAsync();
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
                try
                {
                    await browser.WaitForExitAsync(timeout.Token);
                }
                catch (OperationCanceledException) when (attempt == 1)
                {
                    browser.Kill(entireProcessTree: true);
                    continue;
                }

                Assert.True(browser.ExitCode == 0, $"chromium exited {browser.ExitCode}: {await stderr}");
                return await stdout;
            }
            finally
            {
                try
                {
                    Directory.Delete(profile, recursive: true);
                }
                catch (IOException)
                {
                    // A browser process still closing; the temp cleaner gets it.
                }
            }
        }
    }

    /// <summary>The text of the element with id <paramref name="id"/> in a dumped page.</summary>
    public static string ElementText(string dom, string id) =>
        Regex.Match(dom, $"id=\"{Regex.Escape(id)}\"[^>]*>([^<]*)<") is { Success: true } m ? m.Groups[1].Value : $"<no element #{id}>";
}
