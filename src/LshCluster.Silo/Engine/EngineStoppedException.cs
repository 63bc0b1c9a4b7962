namespace LshCluster.Silo.Engine;

/// <summary>
/// The store refused a write (unreachable, failed, or the shards were claimed by another process), so this engine
/// takes no more work: what it holds in memory may no longer match the store. Nothing unacknowledged was stored by
/// the failed write; restart the engine to reload from the store.
/// </summary>
public sealed class EngineStoppedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public EngineStoppedException(string message, Exception cause)
        : base(message, cause)
    {
    }
}
