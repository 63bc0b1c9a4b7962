namespace LshCluster.Silo.Engine;

/// <summary>
/// A shard could not be reached before the request's deadline (it is moving, or its silo died), or a batch could not be
/// stored because one moved: nothing of the request was acknowledged, and sending it again is safe.
/// </summary>
public sealed class ShardUnavailableException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>Whether the shards have already been told what became of the batch (its homes forgot it, or reloaded).</summary>
    internal bool Settled { get; init; }
}
