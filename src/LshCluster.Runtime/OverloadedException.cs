namespace LshCluster.Runtime;

/// <summary>
/// An actor's mailbox is full: the request was not queued and nothing changed. Retry later, more slowly
/// (gRPC <c>RESOURCE_EXHAUSTED</c>, HTTP 429).
/// </summary>
public sealed class OverloadedException : Exception
{
    /// <summary>Creates the error for the actor <paramref name="actor"/>.</summary>
    public OverloadedException(string actor, int capacity)
        : base($"{actor} is overloaded: {capacity} requests are already waiting; nothing was changed, retry later")
    {
        Actor = actor;
    }

    /// <summary>The refusal of <paramref name="actor"/> as another process reported it.</summary>
    public OverloadedException(string actor, string message)
        : base(message)
    {
        Actor = actor;
    }

    /// <summary>The actor that refused.</summary>
    public string Actor { get; }
}
