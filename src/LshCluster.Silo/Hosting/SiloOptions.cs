using LshCluster.Silo.Engine;
using LshCluster.Silo.Security;

namespace LshCluster.Silo.Hosting;

/// <summary>Settings of one silo process, with production defaults.</summary>
public sealed class SiloOptions
{
    /// <summary>The PostgreSQL connection string of the cluster's store (shared by every silo).</summary>
    public string ConnectionString { get; set; } = string.Empty;

    /// <summary>Where the gRPC endpoint listens (h2c), e.g. <c>127.0.0.1:7001</c>; port 0 picks a free one.</summary>
    public string Listen { get; set; } = "127.0.0.1:7001";

    /// <summary>
    /// Where the REST API, dashboard, health checks and metrics listen (HTTP/1.1, and HTTP/2 over TLS), e.g.
    /// <c>0.0.0.0:7002</c>. Null: the gRPC host and the next port (7001 → 7002; port 0 → a free one). Empty: none.
    /// </summary>
    public string? HttpListen { get; set; }

    /// <summary>
    /// The port silos talk to each other on (Orleans; on the <see cref="Listen"/> host); 0 picks a free one. Orleans'
    /// default, 11111, unless given.
    /// </summary>
    public int OrleansPort { get; set; } = 11111;

    /// <summary>The URL other silos and clients call; default: <c>http://</c> + the address listened on.</summary>
    public string? Advertise { get; set; }

    /// <summary>PEM certificate to serve TLS with (with <see cref="TlsKeyPath"/>); null: plain h2c.</summary>
    public string? TlsCertificatePath { get; set; }

    /// <summary>PEM private key of <see cref="TlsCertificatePath"/>.</summary>
    public string? TlsKeyPath { get; set; }

    /// <summary>
    /// PEM certificate the other silos' certificates must chain to (the cluster's CA, or a shared self-signed
    /// certificate); null: the machine's trust store.
    /// </summary>
    public string? TlsTrustPath { get; set; }

    /// <summary>
    /// API keys callers must present, and the secret silos authenticate each other by on the silo port (from the
    /// environment: see <see cref="Security.Credentials.FromEnvironment"/>). Default: none, an open cluster.
    /// </summary>
    public Credentials Credentials { get; set; } = Credentials.None;

    /// <summary>How long a draining silo waits for the requests under way to finish before it leaves anyway.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The engine's settings (admission, deadlines, batch limits).</summary>
    public DedupEngineOptions Engine { get; set; } = new();

    /// <summary>Throws when a setting is out of range, naming it.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ConnectionString))
        {
            throw new ArgumentException("store: a silo needs a postgres: store (the cluster's shared state)", nameof(ConnectionString));
        }

        if ((TlsCertificatePath is null) != (TlsKeyPath is null))
        {
            throw new ArgumentException("tls: give both the certificate and its key (PEM files), or neither", nameof(TlsCertificatePath));
        }

        foreach (var path in new[] { TlsCertificatePath, TlsKeyPath, TlsTrustPath })
        {
            if (path is not null && !File.Exists(path))
            {
                throw new ArgumentException($"tls: '{path}' does not exist", nameof(TlsCertificatePath));
            }
        }

        if (Credentials.KeysRequired && !Credentials.ClusterSecretRequired)
        {
            throw new ArgumentException(
                $"{Credentials.ClusterSecretVariable}: required when API keys are set: without it anyone who reaches a silo's silo port could join the cluster as a silo and pass the keys by",
                nameof(Credentials));
        }

        if (OrleansPort is < 0 or > 65535)
        {
            throw new ArgumentException($"silo-port: {OrleansPort} is not a port (0 … 65535; 0 picks a free one)", nameof(OrleansPort));
        }

        Engine.Validate();
    }
}
