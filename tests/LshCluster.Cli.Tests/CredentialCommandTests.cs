using LshCluster.Silo.Security;

namespace LshCluster.Cli.Tests;

/// <summary>lshc and credentials: keys made by keygen, and a silo that would leave its internal service open.</summary>
public sealed class CredentialCommandTests
{
    [Fact]
    public void Keygen_prints_a_fresh_key_and_an_entry_that_identifies_it_without_holding_it()
    {
        var first = Lshc.Run(null, "keygen", "ingest-1", "producer");
        var second = Lshc.Run(null, "keygen", "ingest-1", "producer");

        Assert.True(first.ExitCode == 0, first.Error);
        var (key, entry) = Parse(first.Out);
        Assert.NotEqual(key, Parse(second.Out).Key);
        Assert.True(key.Length >= 40);
        Assert.DoesNotContain(key, entry, StringComparison.Ordinal);
        Assert.Equal(("ingest-1", Role.Producer), Credentials.Of(entry).Identify(key));
    }

    [Fact]
    public void Keygen_refuses_a_role_that_does_not_exist()
    {
        var (code, _, error) = Lshc.Run(null, "keygen", "ops", "root");

        Assert.Equal(2, code);
        Assert.Contains("keygen (ops): the role must be producer or admin", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_silo_with_api_keys_but_no_cluster_secret_does_not_start_and_says_why()
    {
        var environment = new Dictionary<string, string?> { ["LSHC_API_KEYS"] = "ingest:producer:ingest-secret-0123456789", ["LSHC_CLUSTER_SECRET"] = null };

        var (code, output, error) = Lshc.Run(null, environment, "silo", "--store", "postgres:Host=127.0.0.1;Port=1");

        Assert.Equal(2, code);
        Assert.Contains("LSHC_CLUSTER_SECRET: required when API keys are set", error, StringComparison.Ordinal);
        Assert.DoesNotContain("ingest-secret", output + error, StringComparison.Ordinal);
    }

    private static (string Key, string Entry) Parse(string output)
    {
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return (lines.Single(l => l.StartsWith("key ", StringComparison.Ordinal))["key".Length..].Trim(),
            lines.Single(l => l.StartsWith("entry ", StringComparison.Ordinal))["entry".Length..].Trim());
    }
}
