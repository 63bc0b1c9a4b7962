using System.Diagnostics;
using System.Text.Json.Nodes;

namespace LshCluster.IntegrationTests;

/// <summary>
/// The deployment files as their tools read them: docker-compose.yml through Debian's docker-compose (`config`), the
/// Kubernetes manifests through a YAML parser, and what each must keep for a silo to drain, be probed and keep its
/// secrets out of the command line. (The same topology — PostgreSQL and three silos — runs as processes in ClusterTests.)
/// </summary>
public sealed class DeploymentFilesTests
{
    private static readonly string Root = ClusterHarness.RepositoryRoot();

    [Fact]
    public async Task Compose_file_is_valid_and_runs_postgres_and_three_probed_silos()
    {
        var config = await RunWithInputAsync("docker-compose", null, new Dictionary<string, string>
        {
            ["LSHC_API_KEYS"] = "ingest:producer:sha256:" + new string('a', 64),
            ["LSHC_CLUSTER_SECRET"] = "compose-test-secret-0123",
        }, "-f", Path.Combine(Root, "docker-compose.yml"), "config");
        var services = (await YamlAsync(config))[0]!["services"]!.AsObject();

        Assert.Equal("postgres:15", (string?)services["postgres"]!["image"]);
        Assert.NotNull(services["postgres"]!["healthcheck"]);
        foreach (var name in new[] { "silo-1", "silo-2", "silo-3" })
        {
            var silo = services[name]!;
            Assert.Contains("/readyz", silo["healthcheck"]!["test"]!.ToJsonString(), StringComparison.Ordinal);
            Assert.Equal("service_healthy", (string?)silo["depends_on"]!["postgres"]!["condition"]);
            Assert.Contains("7002", silo["ports"]!.ToJsonString(), StringComparison.Ordinal);
            Assert.True(Seconds((string)silo["stop_grace_period"]!) >= 60, $"{name}: a silo needs time to drain");
            Assert.StartsWith("postgres:", (string?)silo["environment"]!["LSHC_STORE"], StringComparison.Ordinal);
            Assert.Equal("ingest:producer:sha256:" + new string('a', 64), (string?)silo["environment"]!["LSHC_API_KEYS"]); // from the shell
            Assert.Equal("compose-test-secret-0123", (string?)silo["environment"]!["LSHC_CLUSTER_SECRET"]);
            Assert.DoesNotContain("Password", silo["command"]!.ToJsonString(), StringComparison.OrdinalIgnoreCase);
            await AssertSiloTakesAsync(silo["command"]!.AsArray().Select(a => (string)a!));
            Assert.DoesNotContain("11111", silo["ports"]!.ToJsonString(), StringComparison.Ordinal); // the silo port stays inside
        }
    }

    [Fact]
    public async Task Kubernetes_manifests_parse_and_let_silos_drain_behind_readiness()
    {
        var documents = await YamlAsync(await File.ReadAllTextAsync(Path.Combine(Root, "deploy", "k8s", "lshcluster.yaml")));
        var byKind = documents.ToDictionary(d => (string)d!["kind"]!);

        Assert.Equal(["Deployment", "NetworkPolicy", "PodDisruptionBudget", "Secret", "Service"], byKind.Keys.Order());
        var deployment = byKind["Deployment"]!["spec"]!;
        Assert.Equal(0, (int)deployment["strategy"]!["rollingUpdate"]!["maxUnavailable"]!);
        var pod = deployment["template"]!["spec"]!;
        Assert.True((int)pod["terminationGracePeriodSeconds"]! >= 90);
        var container = pod["containers"]![0]!;
        Assert.Equal("/readyz", (string?)container["readinessProbe"]!["httpGet"]!["path"]);
        Assert.Equal("/healthz", (string?)container["livenessProbe"]!["httpGet"]!["path"]);
        Assert.DoesNotContain("--store", container["args"]!.ToJsonString(), StringComparison.Ordinal);
        await AssertSiloTakesAsync(container["args"]!.AsArray().Select(a => (string)a!));

        // Only silos reach the silo port; producers reach gRPC and HTTP.
        var ingress = byKind["NetworkPolicy"]!["spec"]!["ingress"]!.AsArray();
        var siloRule = ingress.Single(r => r!["ports"]!.AsArray().Any(p => (int)p!["port"]! == 11111))!;
        Assert.Equal("lshcluster", (string?)siloRule["from"]![0]!["podSelector"]!["matchLabels"]!["app"]);
        Assert.Contains(container["ports"]!.AsArray(), p => (int)p!["containerPort"]! == 11111);
        var secret = byKind["Secret"]!["stringData"]!;
        Assert.Contains("LSHC_STORE", secret.ToJsonString(), StringComparison.Ordinal);

        // Keys and the cluster secret live in the Secret too, as placeholders a silo refuses until they are replaced.
        var keys = Assert.Throws<ArgumentException>(() => Silo.Security.Credentials.Of(((string)secret["LSHC_API_KEYS"]!).Trim(), "a-cluster-secret-0123456789"));
        Assert.Contains("sha256: and 64 hex digits", keys.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Silo.Security.Credentials.Of(null, (string)secret["LSHC_CLUSTER_SECRET"]!));
        Assert.Equal(1, (int)byKind["PodDisruptionBudget"]!["spec"]!["maxUnavailable"]!);
    }

    [Fact]
    public async Task Dockerfile_builds_in_stages_with_a_cached_restore_and_runs_as_non_root()
    {
        var lines = (await File.ReadAllLinesAsync(Path.Combine(Root, "deploy", "Dockerfile"))).Where(l => !l.StartsWith('#')).ToList();

        Assert.Equal(2, lines.Count(l => l.StartsWith("FROM ", StringComparison.Ordinal)));
        var restore = lines.FindIndex(l => l.Contains("dotnet restore", StringComparison.Ordinal));
        var sources = lines.FindIndex(l => l.StartsWith("COPY src/ ", StringComparison.Ordinal));
        Assert.InRange(restore, 0, sources - 1);

        // Every project the restore needs is copied before it (a missing one fails the image's restore).
        foreach (var project in Directory.GetDirectories(Path.Combine(Root, "src")).Select(Path.GetFileName))
        {
            var copy = lines.FindIndex(l => l == $"COPY src/{project}/{project}.csproj src/{project}/");
            Assert.True(copy >= 0 && copy < restore, $"deploy/Dockerfile copies no src/{project}/{project}.csproj before its restore");
        }

        // ... and every project it copies exists (a retired one fails the image's build).
        foreach (var copy in lines.Where(l => l.StartsWith("COPY src/", StringComparison.Ordinal) && l.Contains(".csproj", StringComparison.Ordinal)))
        {
            Assert.True(File.Exists(Path.Combine(Root, copy.Split(' ')[1])), $"deploy/Dockerfile copies {copy.Split(' ')[1]}, which does not exist");
        }

        Assert.Contains(lines, l => l.StartsWith("EXPOSE ", StringComparison.Ordinal) && l.Contains("11111", StringComparison.Ordinal));
        var user = lines.Last(l => l.StartsWith("USER ", StringComparison.Ordinal));
        Assert.NotEqual("USER root", user);
    }

    [Fact]
    public async Task Systemd_unit_reads_the_store_from_a_file_and_waits_for_the_drain()
    {
        var unit = await File.ReadAllTextAsync(Path.Combine(Root, "deploy", "systemd", "lshcluster-silo.service"));

        Assert.Contains("EnvironmentFile=", unit, StringComparison.Ordinal);
        Assert.Contains("lshc.dll silo", unit, StringComparison.Ordinal);
        var exec = unit.Split('\n').Single(l => l.StartsWith("ExecStart=", StringComparison.Ordinal));
        await AssertSiloTakesAsync(exec[(exec.IndexOf(" silo", StringComparison.Ordinal) + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("--store", unit, StringComparison.Ordinal);
        var timeout = unit.Split('\n').Single(l => l.StartsWith("TimeoutStopSec=", StringComparison.Ordinal));
        Assert.True(int.Parse(timeout["TimeoutStopSec=".Length..], System.Globalization.CultureInfo.InvariantCulture) >= 90);
    }

    /// <summary>Every option in <paramref name="arguments"/> (<c>silo --x y</c> or <c>--x=y</c>) is one <c>lshc silo --help</c> lists.</summary>
    private static async Task AssertSiloTakesAsync(IEnumerable<string> arguments)
    {
        var help = await RunWithInputAsync("dotnet", null, Path.Combine(AppContext.BaseDirectory, "lshc.dll"), "silo", "--help");
        var options = arguments.Where(a => a.StartsWith("--", StringComparison.Ordinal)).Select(a => a.Split('=')[0]).ToList();
        Assert.NotEmpty(options);
        Assert.All(options, o => Assert.True(System.Text.RegularExpressions.Regex.IsMatch(help, $@"(^|\s){o}[\s,]", System.Text.RegularExpressions.RegexOptions.Multiline), $"lshc silo takes no {o}:\n{help}"));
    }

    private static double Seconds(string duration) =>
        duration.EndsWith("ms", StringComparison.Ordinal) ? double.Parse(duration[..^2], System.Globalization.CultureInfo.InvariantCulture) / 1000
        : duration.EndsWith('m') ? double.Parse(duration[..^1], System.Globalization.CultureInfo.InvariantCulture) * 60
        : double.Parse(duration.TrimEnd('s'), System.Globalization.CultureInfo.InvariantCulture);

    // Every document of a YAML stream, through Python's YAML parser (Debian python3-yaml), as JSON.
    private static async Task<JsonArray> YamlAsync(string yaml)
    {
        var json = await RunWithInputAsync("/usr/bin/python3", yaml, "-c", "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(sys.stdin))))");
        return JsonNode.Parse(json)!.AsArray();
    }

    private static Task<string> RunWithInputAsync(string program, string? input, params string[] arguments) =>
        RunWithInputAsync(program, input, [], arguments);

    private static async Task<string> RunWithInputAsync(string program, string? input, Dictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Root };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
        }

        process.StandardInput.Close();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} exited {process.ExitCode}: {await stderr}");
        return await stdout;
    }
}
