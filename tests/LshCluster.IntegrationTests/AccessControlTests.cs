using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using LshCluster.Protocol.V1;
using LshCluster.Silo.Security;
using LshCluster.Storage.Tests;
using Xunit.Abstractions;

namespace LshCluster.IntegrationTests;

/// <summary>
/// A cluster that asks for keys, as processes: two Orleans silos with API keys and the cluster secret from their
/// environment, called by the .NET client, Python grpcio, lshc and plain HTTP; refused without a key, with an unknown
/// one, and where the key's role does not reach (drain, delete); working end to end (silo-to-silo calls included) with
/// the right ones. The silo port lets in only peers holding the cluster secret.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class AccessControlTests(PostgresServer server, ITestOutputHelper output)
{
    private const string ProducerKey = "producer-key-3f9a1c7e5b";
    private const string AdminKey = "admin-key-8d2e6b4a0c91";
    private const string ClusterSecret = "cluster-secret-1e5c9a7f3b";

    [Fact]
    public async Task A_keyed_cluster_refuses_strangers_and_wrong_roles_and_serves_its_keys_end_to_end()
    {
        await using var cluster = await ClusterHarness.CreateAsync(server, ClusterHarness.TestScheme());
        cluster.SiloEnvironment["LSHC_API_KEYS"] = $"ingest:producer:{ProducerKey},ops:admin:{AdminKey}";
        cluster.SiloEnvironment["LSHC_CLUSTER_SECRET"] = ClusterSecret;
        var first = await cluster.StartSiloAsync();
        var second = await cluster.StartSiloAsync();
        await cluster.WaitForOwnersAsync(2, TimeSpan.FromSeconds(30));

        // The .NET client: refused without a key; with the producer key, vectors whose buckets live on both silos
        // are verified and merged across them (the silos call each other's grains over the silo port).
        var refused = await Assert.ThrowsAsync<RpcException>(() => cluster.ClientAsync());
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        await using (var client = await cluster.ClientAsync(apiKey: ProducerKey))
        {
            var rounds = ClusterHarness.Rounds(originals: 300, rounds: 2, copiesPerRound: 100, seed: 5);
            var originals = await client.InsertAsync(rounds[0]);
            var copies = await client.InsertAsync(rounds[1]);
            Assert.All(originals.Concat(copies), r => Assert.True(r.Verdict is not null, $"{r.Error}\n{cluster.Logs()}"));
            Assert.All(originals, r => Assert.Equal(VerdictKind.New, r.Verdict.Kind));
            var duplicates = copies.Where(r => r.Verdict.Kind == VerdictKind.Duplicate).ToList();
            Assert.True(duplicates.Count >= 90, $"{duplicates.Count} of 100 near-duplicates found");
            Assert.All(duplicates, r => Assert.Equal("o" + r.Verdict.Id.Split('-')[1], r.Verdict.CanonicalId));
            Assert.Equal(400, (await client.GetStatsAsync()).Vectors);
        }

        // The silo port takes only peers holding the cluster secret (mutual TLS over the key it derives): a silo with
        // another secret is cut off at the handshake, one with this secret is let in.
        var siloPort = int.Parse(first.Identity.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.False(await SiloPortAcceptsAsync(siloPort, SiloPortSecurity.CertificateOf("not-the-cluster-secret-0000")));
        Assert.True(await SiloPortAcceptsAsync(siloPort, SiloPortSecurity.CertificateOf(ClusterSecret)));

        // A real non-.NET client: refusals by status code, and the producer key's reach.
        var python = await RunAsync("/usr/bin/python3", [Path.Combine(ClusterHarness.RepositoryRoot(), "tests", "interop", "python_auth.py"), first.Address, ClusterHarness.Dimension.ToString(System.Globalization.CultureInfo.InvariantCulture)], ProducerKey);
        Assert.True(python.ExitCode == 0, python.Output);
        Assert.Contains("python auth: all checks passed", python.Output, StringComparison.Ordinal);

        // lshc takes the key from LSHC_API_KEY, and says what to do without one.
        var lshc = Path.Combine(AppContext.BaseDirectory, "lshc.dll");
        var keyless = await RunAsync("dotnet", [lshc, "stats", "--server", second.Address], apiKey: null);
        var keyed = await RunAsync("dotnet", [lshc, "stats", "--server", second.Address], ProducerKey);
        Assert.Equal(2, keyless.ExitCode);
        Assert.Contains("refused the credentials", keyless.Output, StringComparison.Ordinal);
        Assert.Contains("$LSHC_API_KEY", keyless.Output, StringComparison.Ordinal);
        Assert.True(keyed.ExitCode == 0, keyed.Output);
        Assert.StartsWith("vectors 401 ", keyed.Output, StringComparison.Ordinal); // the 400 and Python's one

        // Deleting takes an admin key too. Sent to one silo, the ids whose home shards the other hosts are deleted
        // there (through the grains); every silo then answers without them.
        string[] gone = [.. Enumerable.Range(0, 20).Select(i => $"o{i}")];
        var deleteAsProducer = await RunAsync("dotnet", [lshc, "delete", "--server", second.Address, .. gone], ProducerKey);
        var deleteAsAdmin = await RunAsync("dotnet", [lshc, "delete", "--server", second.Address, .. gone], AdminKey);
        Assert.Equal(2, deleteAsProducer.ExitCode);
        Assert.Contains("PermissionDenied", deleteAsProducer.Output, StringComparison.Ordinal);
        Assert.True(deleteAsAdmin.ExitCode == 0, deleteAsAdmin.Output);
        Assert.Equal(gone.Select(id => $"deleted     {id}"), deleteAsAdmin.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        await using (var client = await cluster.ClientAsync(apiKey: ProducerKey))
        {
            Assert.Equal(381, (await client.GetStatsAsync()).Vectors);
            foreach (var id in gone)
            {
                Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => client.GetVectorAsync(id))).StatusCode);
            }
        }

        // Draining takes an admin key: the producer's is refused; the admin's drains the second silo, which exits 0,
        // and the first serves every shard with nothing lost. Refusals are logged without the secret.
        using var http = new HttpClient();
        Assert.Equal(HttpStatusCode.Forbidden, (await PostAsync(http, $"{second.HttpAddress}/v1/drain", ProducerKey)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostAsync(http, $"{second.HttpAddress}/v1/drain", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await PostAsync(http, $"{second.HttpAddress}/v1/drain", AdminKey)).StatusCode);
        Assert.Equal(0, await second.WaitForExitAsync(TimeSpan.FromSeconds(90)));
        await cluster.WaitForOwnersAsync(1, TimeSpan.FromSeconds(30));
        await using (var client = await cluster.ClientAsync(apiKey: ProducerKey))
        {
            Assert.Equal(381, (await client.GetStatsAsync()).Vectors);
            Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => client.GetVectorAsync("o0"))).StatusCode);
        }

        Assert.Contains("refused POST /v1/drain from 127.0.0.1: authorization: key 'ingest' has role producer", second.Output, StringComparison.Ordinal);
        Assert.Contains("refused POST /lshcluster.v1.Admin/Drain", first.Output, StringComparison.Ordinal); // Python's
        Assert.DoesNotContain(ProducerKey, first.Output + second.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(ClusterSecret, first.Output + second.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// Whether the silo port keeps a TLS connection that presents <paramref name="certificate"/>: a refused client
    /// certificate ends it right after the handshake (the server judges it once the handshake is done), an accepted one
    /// leaves it open for Orleans' preamble.
    /// </summary>
    private static async Task<bool> SiloPortAcceptsAsync(int port, X509Certificate2 certificate)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        await using var tls = new SslStream(tcp.GetStream());
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "lshcluster silo",
                ClientCertificates = [certificate],
                RemoteCertificateValidationCallback = (_, _, _, _) => true, // the silo's acceptance of us is under test
            }, timeout.Token);
            var read = tls.ReadAsync(new byte[1]).AsTask();
            return await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(3))) != read || await read > 0;
        }
        catch (Exception e) when (e is IOException or AuthenticationException)
        {
            return false;
        }
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient http, string url, string? key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = System.Net.Http.Json.JsonContent.Create(new { }) };
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return await http.SendAsync(request);
    }

    private async Task<(int ExitCode, string Output)> RunAsync(string program, string[] arguments, string? apiKey)
    {
        var start = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.Environment.Remove("LSHC_API_KEY");
        if (apiKey is not null)
        {
            start.Environment["LSHC_API_KEY"] = apiKey;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        var text = await stdout + await stderr;
        output.WriteLine($"$ {Path.GetFileName(program)} {string.Join(' ', arguments)}\n{text}");
        return (process.ExitCode, text);
    }
}
