using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using LshCluster.Silo.Hosting;
using Orleans.Connections.Security;

namespace LshCluster.Silo.Security;

/// <summary>
/// How the silos authenticate each other on the Orleans silo port: mutual TLS (Orleans.Connections.Security), with
/// <list type="bullet">
/// <item>the cluster secret, when one is set: every silo derives the same key pair from it and accepts only a peer whose
/// certificate carries the key one of its secrets derives (during a rotation: presents the first, accepts any) — a
/// silo without the secret can neither join nor be called;</item>
/// <item>else the silo's TLS certificate, when one is given: the peer's must chain to <c>--tls-ca</c> (or the machine's
/// trust store);</item>
/// <item>else nothing: the silo port must stay on a private network (the silo logs so).</item>
/// </list>
/// </summary>
public static class SiloPortSecurity
{
    private static readonly byte[] KeySalt = Encoding.UTF8.GetBytes("lshcluster silo port key v1");

    /// <summary>What protects the silo port under <paramref name="options"/>, for the log.</summary>
    public static string Describe(SiloOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Credentials.ClusterSecretRequired ? "mutual TLS with the key the cluster secret derives"
            : options.TlsCertificatePath is not null ? "mutual TLS with the silo certificate"
            : "nothing (plain TCP: keep the silo port on a private network, or set a cluster secret)";
    }

    /// <summary>Sets the silo port's TLS options, or null when nothing protects it.</summary>
    /// <exception cref="ArgumentException">A certificate file cannot be used (named).</exception>
    public static Action<TlsOptions>? Configure(SiloOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        X509Certificate2 local;
        RemoteCertificateValidator accept;
        if (options.Credentials.ClusterSecrets is { Count: > 0 } secrets)
        {
            local = CertificateOf(secrets[0]);
            var accepted = secrets.Select(s => PublicKeyOf(DeriveKey(s))).ToList();
            accept = (certificate, _, _) => certificate.GetECDsaPublicKey() is { } key && accepted.Any(a => CryptographicOperations.FixedTimeEquals(a, key.ExportSubjectPublicKeyInfo()));
        }
        else if (options.TlsCertificatePath is { } certificatePath)
        {
            local = SiloWeb.LoadTls(() => X509Certificate2.CreateFromPemFile(certificatePath, options.TlsKeyPath), certificatePath);
            var trust = options.TlsTrustPath is { } trustPath ? SiloWeb.LoadTls(() => X509CertificateLoader.LoadCertificateFromFile(trustPath), trustPath) : null;
            accept = (certificate, _, errors) => trust is null ? errors == SslPolicyErrors.None : ChainsTo(certificate, trust);
        }
        else
        {
            return null;
        }

        return tls =>
        {
            tls.LocalCertificate = local;
            tls.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
            tls.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;

            // The validator decides alone: the platform's chain and name checks do not apply to a pinned key, and
            // silos are reached by IP, not by the name in a certificate.
            tls.RemoteCertificateValidation = accept;
        };
    }

    /// <summary>A self-signed certificate over the key <paramref name="secret"/> derives (any silo holding the secret makes an equivalent one).</summary>
    public static X509Certificate2 CertificateOf(string secret)
    {
        using var key = DeriveKey(secret);
        var request = new CertificateRequest("CN=lshcluster silo", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(100));

        // Through PKCS#12 so that the private key is usable by TLS on every platform.
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }

    private static ECDsa DeriveKey(string secret)
    {
        // The private scalar from the secret (which is at least 16 characters and meant to be random); the public key
        // follows from it. A scalar out of range for P-256 has probability ~2^-32.
        var scalar = HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret), 32, KeySalt, []);
        return ECDsa.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, D = scalar });
    }

    private static byte[] PublicKeyOf(ECDsa key)
    {
        using (key)
        {
            return key.ExportSubjectPublicKeyInfo();
        }
    }

    private static bool ChainsTo(X509Certificate2 certificate, X509Certificate2 trust)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(trust);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }
}
