namespace LshCluster.Abstractions.Shards;

/// <summary>
/// A shard grain could not activate: the store it loads from failed (the database restarted, a connection broke).
/// Nothing was changed; the call may be sent again. Carries the store's message, not its exception, which only the
/// silo that met it can deserialize.
/// </summary>
[GenerateSerializer]
public sealed class ShardActivationException : Exception
{
    /// <summary>Creates the error with the store's message.</summary>
    public ShardActivationException(string message)
        : base(message)
    {
    }

    /// <summary>For serializers.</summary>
    public ShardActivationException()
    {
    }

    /// <summary>For serializers.</summary>
    public ShardActivationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
