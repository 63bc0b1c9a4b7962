using LshCluster.Silo.Security;

namespace LshCluster.Silo.Tests;

/// <summary>Keys and the cluster secret as configured: the forms accepted, and refusals that name the entry, never the secret.</summary>
public sealed class CredentialsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lshc-keys-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Keys_come_inline_or_from_a_file_and_a_hashed_secret_identifies_like_the_plain_one()
    {
        var file = Path.Combine(_directory, "keys");
        File.WriteAllText(file, $"# producers\nbatch:producer:{Credentials.HashedForm("batch-secret-0123456789")}\n\nops:admin:ops-secret-0123456789\n");
        var environment = new Dictionary<string, string>
        {
            [Credentials.KeysVariable] = "ingest:producer:ingest-secret-0123456789",
            [Credentials.KeysFileVariable] = file,
            [Credentials.ClusterSecretVariable] = "cluster-secret-0123456789",
        };

        var credentials = Credentials.FromEnvironment(environment.GetValueOrDefault);

        Assert.Equal(["ingest", "batch", "ops"], credentials.Keys.Select(k => k.Name));
        Assert.Equal(("batch", Role.Producer), credentials.Identify("batch-secret-0123456789"));
        Assert.Equal(("ops", Role.Admin), credentials.Identify("ops-secret-0123456789"));
        Assert.Null(credentials.Identify("cluster-secret-0123456789")); // it authenticates silos on the silo port, not callers
        Assert.Null(credentials.Identify("batch-secret-012345678"));
        Assert.Null(credentials.Identify(Credentials.HashedForm("batch-secret-0123456789"))); // the hash is not a key
        Assert.True(credentials.KeysRequired);
        Assert.True(credentials.ClusterSecretRequired);
    }

    [Fact]
    public void Nothing_configured_is_an_open_server()
    {
        var credentials = Credentials.FromEnvironment(_ => null);

        Assert.False(credentials.KeysRequired);
        Assert.False(credentials.ClusterSecretRequired);
        Assert.Null(credentials.Identify("anything-at-all-123456"));
    }

    [Theory]
    [InlineData("ingest:producer", "LSHC_API_KEYS entry 1: expected NAME:ROLE:SECRET")]
    [InlineData("a:producer:aaaaaaaaaaaaaaaaaaaa,b:owner:bbbbbbbbbbbbbbbbbbbb", "LSHC_API_KEYS entry 2 (b): the role must be producer or admin")]
    [InlineData("b:bbbbbbbbbbbbbbbbbbbb:admin", "LSHC_API_KEYS entry 1 (b): the role must be producer or admin (entries are NAME:ROLE:SECRET)")]
    [InlineData("ingest:producer:short-one", "LSHC_API_KEYS entry 1 (ingest): the secret must have at least 16 characters")]
    [InlineData("in gest:producer:aaaaaaaaaaaaaaaaaaaa", "LSHC_API_KEYS entry 1: the name 'in gest' must be letters, digits")]
    [InlineData("a:producer:aaaaaaaaaaaaaaaaaaaa,a:admin:bbbbbbbbbbbbbbbbbbbb", "LSHC_API_KEYS entry 2: the name 'a' is used twice")]
    [InlineData("a:producer:aaaaaaaaaaaaaaaaaaaa,b:admin:aaaaaaaaaaaaaaaaaaaa", "LSHC_API_KEYS entry 2 (b): the same secret as key 'a'")]
    [InlineData("a:producer:sha256:abc", "LSHC_API_KEYS entry 1 (a): a hashed secret is sha256: and 64 hex digits")]
    public void A_malformed_key_is_refused_naming_the_entry_and_never_its_secret(string keys, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => Credentials.Of(keys));

        Assert.StartsWith(expected, e.Message, StringComparison.Ordinal);
        foreach (var secret in new[] { "short-one", "aaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbb" })
        {
            Assert.DoesNotContain(secret, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_cluster_secret_comes_from_one_place_and_is_long_enough()
    {
        var file = Path.Combine(_directory, "secret");
        File.WriteAllText(file, "cluster-secret-from-a-file\n");

        var fromFile = Credentials.FromEnvironment(n => n == Credentials.ClusterSecretFileVariable ? file : null);
        var both = Assert.Throws<ArgumentException>(() => Credentials.FromEnvironment(n => n switch
        {
            Credentials.ClusterSecretFileVariable => file,
            Credentials.ClusterSecretVariable => "cluster-secret-0123456789",
            _ => null,
        }));
        var shortOne = Assert.Throws<ArgumentException>(() => Credentials.Of(null, "tiny"));
        var missing = Assert.Throws<ArgumentException>(() => Credentials.FromEnvironment(n => n == Credentials.KeysFileVariable ? Path.Combine(_directory, "none") : null));

        Assert.Equal("cluster-secret-from-a-file", fromFile.ClusterSecret);
        Assert.StartsWith("LSHC_CLUSTER_SECRET, LSHC_CLUSTER_SECRET_FILE: set one of them, not both", both.Message, StringComparison.Ordinal);
        Assert.StartsWith("LSHC_CLUSTER_SECRET: a cluster secret must have at least 16 characters", shortOne.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("tiny", shortOne.Message, StringComparison.Ordinal);
        Assert.StartsWith("LSHC_API_KEYS_FILE: cannot read", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void During_a_rotation_a_silo_presents_the_first_cluster_secret_and_keeps_each()
    {
        var credentials = Credentials.Of(null, "new-cluster-secret-0001, old-cluster-secret-0000");

        Assert.Equal("new-cluster-secret-0001", credentials.ClusterSecret);
        Assert.Equal(["new-cluster-secret-0001", "old-cluster-secret-0000"], credentials.ClusterSecrets);
    }

    [Fact]
    public void A_silo_with_keys_but_no_cluster_secret_is_refused_before_it_starts()
    {
        var options = new Hosting.SiloOptions { ConnectionString = "Host=127.0.0.1", Credentials = Credentials.Of("a:producer:aaaaaaaaaaaaaaaaaaaa") };

        var e = Assert.Throws<ArgumentException>(options.Validate);

        Assert.StartsWith("LSHC_CLUSTER_SECRET: required when API keys are set", e.Message, StringComparison.Ordinal);
    }
}
