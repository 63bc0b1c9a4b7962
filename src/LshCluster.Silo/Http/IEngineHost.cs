using LshCluster.Silo.Engine;

namespace LshCluster.Silo.Http;

/// <summary>
/// What the HTTP surface needs from whatever hosts the engine: a silo of a cluster, or the embedded server
/// (<c>lshc serve</c>). The REST API, dashboard and health checks are the same for both.
/// </summary>
public interface IEngineHost
{
    /// <summary>Whether the engine answers requests now (<c>/readyz</c>).</summary>
    bool IsServing { get; }

    /// <summary>The engine while it serves.</summary>
    /// <exception cref="NotServingException">It does not serve now; the message says why (starting, draining, declared dead).</exception>
    DedupEngine ServingEngine();

    /// <summary>The processes serving this store: every silo of the cluster, or the embedded server alone.</summary>
    Task<IReadOnlyList<SiloStatus>> ListSilosAsync(CancellationToken cancellationToken);

    /// <summary>Every shard and who owns it.</summary>
    Task<IReadOnlyList<ShardStatus>> ListShardsAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Starts handing this process's shards to the others, after which it leaves; returns how many it owns now, or
    /// null when no other process could take them (the embedded server; the last active silo), and nothing starts.
    /// </summary>
    Task<int?> BeginDrainAsync(CancellationToken cancellationToken);
}

/// <summary>A process serving the store, as <c>GET /v1/silos</c> shows it.</summary>
/// <param name="Address">The URL clients call (gRPC), or the embedded server's HTTP URL.</param>
/// <param name="Generation">This incarnation (a restarted silo has a new one); 0 for the embedded server.</param>
/// <param name="Status">joining, active, draining or dead (the embedded server: active, or left while it stops).</param>
/// <param name="Shards">Shard grains active on it.</param>
/// <param name="IsSelf">Whether this is the process answering.</param>
public sealed record SiloStatus(string Address, long Generation, string Status, int Shards, bool IsSelf);

/// <summary>A shard and its owner, as <c>GET /v1/shards</c> shows it.</summary>
/// <param name="Shard">The shard number.</param>
/// <param name="Owner">The silo where its grain is active, or null when it is not active anywhere now (it activates at its next call).</param>
/// <param name="Epoch">Incremented by each activation; every write is fenced by it.</param>
public sealed record ShardStatus(int Shard, string? Owner, long Epoch);

/// <summary>The engine does not answer requests now; the message says why and whether to retry.</summary>
public sealed class NotServingException(string message) : Exception(message);
