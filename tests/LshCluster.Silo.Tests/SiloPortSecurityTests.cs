using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using LshCluster.Silo.Hosting;
using LshCluster.Silo.Security;
using Orleans.Connections.Security;

namespace LshCluster.Silo.Tests;

public sealed class SiloPortSecurityTests
{
    private const string Current = "cluster-secret-current-7c1d";
    private const string Previous = "cluster-secret-previous-4b2e";

    [Fact]
    public void During_a_rotation_a_silo_presents_the_first_secrets_key_and_accepts_either_but_no_other()
    {
        var tls = Configured(Credentials.Of(keys: null, clusterSecret: $"{Current},{Previous}"));

        Assert.Equal(RemoteCertificateMode.RequireCertificate, tls.RemoteCertificateMode);
        Assert.Equal(SamePublicKey(SiloPortSecurity.CertificateOf(Current)), SamePublicKey(tls.LocalCertificate!));
        Assert.True(tls.RemoteCertificateValidation!(SiloPortSecurity.CertificateOf(Current), null, SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.True(tls.RemoteCertificateValidation(SiloPortSecurity.CertificateOf(Previous), null, SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(tls.RemoteCertificateValidation(SiloPortSecurity.CertificateOf("cluster-secret-of-another-0000"), null, SslPolicyErrors.None));
    }

    [Fact]
    public void Without_a_secret_or_a_certificate_the_silo_port_is_plain_and_says_so()
    {
        var options = new SiloOptions { ConnectionString = "Host=x" };

        Assert.Null(SiloPortSecurity.Configure(options));
        Assert.Contains("private network", SiloPortSecurity.Describe(options), StringComparison.Ordinal);
    }

    private static TlsOptions Configured(Credentials credentials)
    {
        var tls = new TlsOptions();
        SiloPortSecurity.Configure(new SiloOptions { ConnectionString = "Host=x", Credentials = credentials })!(tls);
        return tls;
    }

    private static string SamePublicKey(X509Certificate2 certificate) =>
        Convert.ToHexString(certificate.GetECDsaPublicKey()!.ExportSubjectPublicKeyInfo());
}
