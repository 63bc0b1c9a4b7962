using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using LshCluster.Client;
using LshCluster.Storage.Tests;

namespace LshCluster.IntegrationTests;

/// <summary>The cluster over TLS: Orleans silos serve https and call each other over mutual TLS with the cluster's own certificate.</summary>
[Collection(PostgresCollection.Name)]
public sealed class TlsTests(PostgresServer server)
{
    [Fact]
    public async Task Silos_talk_TLS_to_each_other_and_to_a_client_that_trusts_the_cluster_certificate()
    {
        var directory = Directory.CreateTempSubdirectory("lshc-tls-");
        try
        {
            var (certificate, certPath, keyPath) = SelfSigned(directory.FullName);
            await using var cluster = await ClusterHarness.CreateAsync(server, ClusterHarness.TestScheme());
            cluster.TrustedCertificate = certificate;
            string[] tls = ["--tls-cert", certPath, "--tls-key", keyPath, "--tls-ca", certPath];
            var first = await cluster.StartSiloAsync(tls);
            await cluster.StartSiloAsync(tls);
            Assert.StartsWith("https://", first.Address, StringComparison.Ordinal);
            await cluster.WaitForOwnersAsync(2, TimeSpan.FromSeconds(30));

            await using var client = await cluster.ClientAsync(trusted: certificate);
            var rounds = ClusterHarness.Rounds(originals: 300, rounds: 2, copiesPerRound: 100, seed: 21);
            foreach (var round in rounds)
            {
                var results = await client.InsertAsync(round);
                Assert.All(results, r => Assert.NotNull(r.Verdict));
            }

            var stats = await client.GetStatsAsync();
            Assert.Equal(400, stats.Vectors);
            Assert.True(stats.Duplicates >= 95, $"{stats.Duplicates} duplicates of 100 planted");

            // A client that does not trust the cluster's certificate is refused at the handshake, and told why.
            var untrusting = new LshClusterClientOptions { Deadline = TimeSpan.FromSeconds(5) };
            untrusting.Seeds.Add(new Uri(first.Address));
            var error = await Assert.ThrowsAsync<RpcException>(() => LshClusterClient.ConnectAsync(untrusting));
            Assert.Contains("UntrustedRoot", error.Status.Detail, StringComparison.Ordinal); // Grpc.Net.Client: INTERNAL, the reason in the detail
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static (X509Certificate2 Certificate, string CertPath, string KeyPath) SelfSigned(string directory)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=lshcluster test", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign, critical: false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var certPath = Path.Combine(directory, "silo.crt");
        var keyPath = Path.Combine(directory, "silo.key");
        File.WriteAllText(certPath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (X509CertificateLoader.LoadCertificate(certificate.RawData), certPath, keyPath);
    }
}
