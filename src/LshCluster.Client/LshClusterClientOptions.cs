namespace LshCluster.Client;

/// <summary>Settings of an <see cref="LshClusterClient"/>.</summary>
public sealed class LshClusterClientOptions
{
    /// <summary>Silos to ask first for the scheme and the shard map; any live one will do.</summary>
    public IList<Uri> Seeds { get; } = [];

    /// <summary>How long one call (an insert batch with its retries) may take in all.</summary>
    public TimeSpan Deadline { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long one request to one silo may take before it is sent again, or a read is asked of another silo (within
    /// <see cref="Deadline"/>); retrying is safe, since a vector sent twice is stored once.
    /// </summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Most vectors in one request to one silo; larger batches are split.</summary>
    public int MaxVectorsPerRequest { get; set; } = 2_000;

    /// <summary>
    /// For https:// silos with certificates of the cluster's own CA (or a shared self-signed certificate): what they
    /// must chain to. Null: the machine's trust store.
    /// </summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? TrustedCertificate { get; set; }

    /// <summary>
    /// The API key sent with every call (<c>authorization: Bearer KEY</c>); null when the cluster asks for none. A
    /// producer key may ingest and query; draining takes an admin key.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>Other headers sent with every call.</summary>
    public IDictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Throws when a setting is out of range, naming it.</summary>
    public void Validate()
    {
        if (Seeds.Count == 0)
        {
            throw new ArgumentException("Seeds: name at least one silo URL", nameof(Seeds));
        }

        if (Deadline <= TimeSpan.Zero)
        {
            throw new ArgumentException("Deadline must be positive", nameof(Deadline));
        }

        if (AttemptTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("AttemptTimeout must be positive", nameof(AttemptTimeout));
        }

        if (MaxVectorsPerRequest is < 1 or > 10_000)
        {
            throw new ArgumentException("MaxVectorsPerRequest must be 1 … 10,000", nameof(MaxVectorsPerRequest));
        }
    }
}
