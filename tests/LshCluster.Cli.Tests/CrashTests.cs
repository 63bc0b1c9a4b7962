using System.Diagnostics;
using System.Text.Json;
using LshCluster.Core.Evaluation;
using LshCluster.Storage.Tests;
using Xunit.Abstractions;

namespace LshCluster.Cli.Tests;

/// <summary>The SQLite store under <see cref="CrashTests"/>: a class of its own, so that it runs beside the PostgreSQL one.</summary>
public sealed class SqliteCrashTests(ITestOutputHelper output) : CrashTests(output)
{
    [Fact]
    public Task Sqlite_loses_nothing_acknowledged_when_the_ingest_is_killed_three_times() =>
        KillAndRestartAsync($"sqlite:{Path.Combine(Directory, "crash.db")}", $"sqlite:{Path.Combine(Directory, "reference.db")}");
}

/// <summary>The PostgreSQL store under <see cref="CrashTests"/>.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresCrashTests(PostgresServer postgres, ITestOutputHelper output) : CrashTests(output)
{
    [Fact]
    public async Task Postgres_loses_nothing_acknowledged_when_the_ingest_is_killed_three_times() =>
        await KillAndRestartAsync($"postgres:{await postgres.CreateDatabaseAsync("crash")}", $"postgres:{await postgres.CreateDatabaseAsync("reference")}");
}

/// <summary>
/// Kills a real <c>lshc ingest</c> with SIGKILL at random moments and restarts it: every vector whose verdict was
/// printed (acknowledged) must be stored exactly once, and the clusters must equal a fault-free run's.
/// </summary>
public abstract class CrashTests(ITestOutputHelper output) : IDisposable
{
    private const int Kills = 3; // each kill is an lshc process start (an Orleans silo, ~3 s of start-up on 2 cores)

    /// <summary>A directory of the test's own for the stores and the input.</summary>
    protected string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("lshc-crash-").FullName;

    /// <summary>Kills the ingest into <paramref name="store"/> three times, then compares with <paramref name="reference"/>.</summary>
    protected async Task KillAndRestartAsync(string store, string reference)
    {
        var data = Path.Combine(Directory, "vectors.jsonl");
        await File.WriteAllLinesAsync(data, PlantedSet.Generate(64, 6000, seed: 5, duplicateShare: 0.4)
            .Select((v, i) => JsonSerializer.Serialize(new { id = $"v{i}", vector = v })));
        foreach (var s in new[] { store, reference })
        {
            var created = Lshc.Run(null, "create", "--store", s, "--dim", "64", "--rungs", "0.99,0.95", "--shards", "64");
            Assert.True(created.ExitCode == 0, created.Error);
        }

        var acknowledged = new HashSet<string>();
        var random = new Random(17);
        for (var kill = 0; kill < Kills; kill++)
        {
            var before = acknowledged.Count;
            await RunAndKillAsync(store, data, acknowledged, afterAcks: before + 300 + random.Next(700));
            output.WriteLine($"kill {kill + 1}: {acknowledged.Count} verdicts acknowledged so far");
            Assert.True(acknowledged.Count > before, "the ingest should acknowledge something before each kill");
            await AssertStoredExactlyOnceAsync(store, acknowledged);
        }

        var finish = Lshc.Run(null, "ingest", "--store", store, data, "--batch", "250");
        Assert.True(finish.ExitCode == 0, finish.Error);
        var full = Lshc.Run(null, "ingest", "--store", reference, data, "--batch", "250");
        Assert.True(full.ExitCode == 0, full.Error);

        await AssertStoredExactlyOnceAsync(store, [.. Enumerable.Range(0, 6000).Select(i => $"v{i}")]);
        foreach (var rung in new[] { "0.99", "0.95" })
        {
            var crashed = Clusters(store, rung);
            Assert.Equal(Clusters(reference, rung), crashed);
            Assert.NotEmpty(crashed);
        }
    }

    private static async Task RunAndKillAsync(string store, string data, HashSet<string> acknowledged, int afterAcks)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "lshc.dll"), "ingest", "--store", store, data, "--batch", "100", "--verdicts" })
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        _ = process.StandardError.ReadToEndAsync();
        var deadline = Stopwatch.StartNew();
        while (await process.StandardOutput.ReadLineAsync() is { } line)
        {
            using var verdict = JsonDocument.Parse(line);
            acknowledged.Add(verdict.RootElement.GetProperty("external_id").GetString()!);
            if (acknowledged.Count >= afterAcks || deadline.Elapsed > TimeSpan.FromMinutes(2))
            {
                break;
            }
        }

        // SIGKILL: no chance to flush or clean up, as in a power cut of the process.
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
    }

    // Read from the store itself after each kill (an lshc process per check would start an Orleans silo each time);
    // the clusters at the end are read through lshc export.
    private static async Task AssertStoredExactlyOnceAsync(string store, IReadOnlyCollection<string> acknowledged)
    {
        var stored = new List<string>();
        await using (var reader = LshCluster.Storage.DedupStores.Open(store))
        {
            await foreach (var v in reader.ReadVectorsAsync())
            {
                stored.Add(v.ExternalId);
            }
        }

        Assert.Equal(stored.Count, stored.Distinct().Count());
        var missing = acknowledged.Except(stored).ToList();
        Assert.True(missing.Count == 0, $"acknowledged but not stored: {string.Join(", ", missing.Take(10))}");
    }

    private static List<string> Clusters(string store, string rung)
    {
        var export = Lshc.Run(null, "export", "--store", store, "--rung", rung, "--format", "clusters");
        Assert.True(export.ExitCode == 0, export.Error);
        return [.. export.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => string.Join(' ', line.Split(' ').Order(StringComparer.Ordinal)))
            .Order(StringComparer.Ordinal)];
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }

        GC.SuppressFinalize(this);
    }
}
