using Orleans.Configuration;

namespace LshCluster.Grains.Hosting;

/// <summary>
/// How silos find each other and how fast a dead one is noticed (ADR 0006): Orleans' ADO.NET clustering on the
/// cluster's PostgreSQL, with failure detection tuned for takeover in about a second and a half.
/// </summary>
public static class MembershipOptions
{
    /// <summary>
    /// Membership in the tables of migration 0005 of the PostgreSQL store at <paramref name="connectionString"/>, with
    /// the failure-detection options of <see cref="FastTakeover"/>.
    /// </summary>
    public static ISiloBuilder UseLshClusterMembership(this ISiloBuilder silo, string connectionString)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        return silo
            .UseAdoNetClustering(o => (o.Invariant, o.ConnectionString) = ("Npgsql", connectionString))
            .Configure<ClusterMembershipOptions>(FastTakeover);
    }

    /// <summary>
    /// A silo is declared dead after two missed probes of one second and one vote. Declaring a slow but live silo dead
    /// is safe here: its shard grains activate elsewhere with a new epoch, every write of the old activations is then
    /// refused by the fence, and the silo rejoins as a new incarnation. The membership table is refreshed and each
    /// silo's liveness published every five seconds, so a silo learns of changes even when a probe message is lost.
    /// </summary>
    public static void FastTakeover(ClusterMembershipOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.ProbeTimeout = TimeSpan.FromSeconds(1);
        options.NumMissedProbesLimit = 2;
        options.NumVotesForDeathDeclaration = 1;
        options.TableRefreshTimeout = TimeSpan.FromSeconds(5);
        options.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5);
    }
}
