using System.Globalization;
using System.Text.RegularExpressions;
using LshCluster.Core.Evaluation;
using LshCluster.Silo.Engine;
using LshCluster.Silo.Hosting;
using Xunit.Abstractions;

namespace LshCluster.Silo.Tests;

/// <summary>
/// The dashboard in a real browser (Debian's headless chromium): after a Fashion-MNIST ingest the page shows the
/// store's real counts and the largest cluster's members as 28×28 thumbnails; it takes a screenshot too (set
/// LSHC_DASHBOARD_SCREENSHOT to a path to keep it). docs/dashboard.png is from a three-silo run (docs/operations.md).
/// </summary>
public sealed partial class DashboardTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempStores _stores = new();

    [Fact]
    public async Task After_an_ingest_the_page_shows_the_counts_and_a_clusters_thumbnails()
    {
        var images = IdxReader.TryReadFashionMnist()
            ?? throw new InvalidOperationException("Fashion-MNIST is not installed: scripts/test.sh installs Debian's dataset-fashion-mnist");
        HeadlessChromium.RequireInstalled();
        var vectors = images.Take(6000).ToList();
        var scheme = TempStores.Plan(784, [0.99f, 0.98f], shards: 64, sample: [.. vectors.Take(1000)]);
        await using var engine = await TempStores.CreateAsync(_stores.NewSqlite(), scheme, new DedupEngineOptions { RecallSampleRate = 0.05, RecallSampleBudget = 1 });
        for (var start = 0; start < vectors.Count; start += 2000)
        {
            await engine.InsertAsync([.. vectors.Skip(start).Take(2000).Select((v, i) => new VectorInput((start + i).ToString(CultureInfo.InvariantCulture), v))]);
        }

        await engine.RecallSamplesCheckedAsync();
        var stats = await engine.GetStatsAsync();
        var largest = (await engine.ListClustersAsync(engine.Rungs.Count - 1, take: 1)).Single();
        await using var server = await EmbeddedServer.StartAsync(engine, "127.0.0.1:0");

        var dom = await HeadlessChromium.RunAsync("--dump-dom", $"{server.Address}/");

        // The page formats numbers as en-US does, which is what the invariant culture writes too (1,234).
        Assert.Equal(stats.Vectors.ToString("N0", CultureInfo.InvariantCulture), HeadlessChromium.ElementText(dom, "vectors"));
        Assert.Equal(stats.Duplicates.ToString("N0", CultureInfo.InvariantCulture), HeadlessChromium.ElementText(dom, "duplicates"));
        Assert.Contains($"{largest.ClusterId} at rung {largest.Rung.ToString(CultureInfo.InvariantCulture)}", HeadlessChromium.ElementText(dom, "cluster-title"), StringComparison.Ordinal);
        // The live recall per rung, with its interval, as the stats give it.
        var rungTable = dom[dom.IndexOf("id=\"rungs\"", StringComparison.Ordinal)..];
        rungTable = Regex.Replace(rungTable[..rungTable.IndexOf("</table>", StringComparison.Ordinal)], "<[^>]*>", " ");
        Assert.All(stats.Rungs, r => Assert.Contains($"{r.SampledRecall!.Estimate.ToString("F4", CultureInfo.InvariantCulture)} ({r.SampledRecall.Low.ToString("F4", CultureInfo.InvariantCulture)}–", rungTable, StringComparison.Ordinal));

        // The largest cluster's line says how coherent it is, and whether it is chained (as the API says).
        var table = dom[dom.IndexOf("id=\"largest\"", StringComparison.Ordinal)..];
        var line = Regex.Replace(table[..table.IndexOf("</tr>", table.IndexOf("<tbody>", StringComparison.Ordinal), StringComparison.Ordinal)], "<[^>]*>", " ");
        Assert.Contains(largest.Coherence.ToString("F3", CultureInfo.InvariantCulture), line, StringComparison.Ordinal);
        Assert.Equal(largest.IsChained, line.Contains("chained", StringComparison.Ordinal));
        Assert.Equal(largest.IsChained, HeadlessChromium.ElementText(dom, "cluster-title").Contains("chained", StringComparison.Ordinal));
        var thumbnails = Thumbnail().Matches(dom).Count;
        Assert.Equal(Math.Min(largest.Size, 48), thumbnails);
        output.WriteLine($"{stats.Vectors} vectors, {stats.Duplicates} duplicates; largest cluster {largest.ClusterId} ({largest.Size}) drawn as {thumbnails} thumbnails");

        var keep = Environment.GetEnvironmentVariable("LSHC_DASHBOARD_SCREENSHOT") is { Length: > 0 } path ? path : null;
        var screenshot = keep ?? Path.Combine(Path.GetTempPath(), $"lshc-dashboard-{Guid.NewGuid():N}.png");
        await HeadlessChromium.RunAsync("--window-size=1400,1300", "--hide-scrollbars", $"--screenshot={screenshot}", $"{server.Address}/");
        Assert.True(new FileInfo(screenshot).Length > 10_000, "the screenshot is (nearly) empty");
        output.WriteLine(keep is null ? "screenshot taken (set LSHC_DASHBOARD_SCREENSHOT to keep it)" : $"screenshot: {keep}");
        if (keep is null)
        {
            File.Delete(screenshot);
        }
    }

    [Fact]
    public async Task With_api_keys_the_page_asks_for_one_and_shows_the_counts_once_given()
    {
        HeadlessChromium.RequireInstalled();
        const string Secret = "dashboard-key-0a1b2c3d4e";
        var scheme = TempStores.Plan(8, [0.99f], shards: 8);
        await using var engine = await TempStores.CreateAsync(_stores.NewSqlite(), scheme);
        await engine.InsertAsync([.. Enumerable.Range(0, 1234).Select(i => new VectorInput($"v{i}", [.. Enumerable.Range(0, 8).Select(j => (float)Math.Sin((i * 8) + j))]))]);
        await using var server = await EmbeddedServer.StartAsync(engine, "127.0.0.1:0", credentials: Security.Credentials.Of($"viewer:producer:{Secret}"));

        var withoutKey = await HeadlessChromium.RunAsync("--dump-dom", $"{server.Address}/");
        var withKey = await HeadlessChromium.RunAsync("--dump-dom", $"{server.Address}/#key={Secret}");

        Assert.Equal("this cluster asks for an API key: enter a producer or admin key", HeadlessChromium.ElementText(withoutKey, "status"));
        Assert.Matches("<form id=\"keyform\">", withoutKey); // shown: the hidden attribute is gone
        Assert.Equal("–", HeadlessChromium.ElementText(withoutKey, "vectors"));
        Assert.Equal("1,234", HeadlessChromium.ElementText(withKey, "vectors"));
        Assert.Contains("<form id=\"keyform\" hidden=\"\">", withKey, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, withKey, StringComparison.Ordinal); // taken out of the address and the page

        // The page that holds the key runs its own script only (by hash: the counts above prove the hash right) and
        // cannot be framed by another site.
        using var http = new HttpClient();
        using var page = await http.GetAsync($"{server.Address}/");
        var policy = string.Join(' ', page.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'sha256-", policy, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-eval", policy, StringComparison.Ordinal);
        Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());
    }

    public void Dispose() => _stores.Dispose();

    [GeneratedRegex("<img class=\"thumb\" src=\"data:image/png;base64,")]
    private static partial Regex Thumbnail();
}
