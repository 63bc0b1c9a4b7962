namespace LshCluster.Runtime;

/// <summary>
/// A request's deadline passed before the actor reached it, so it was dropped without running: it changed nothing
/// (gRPC <c>DEADLINE_EXCEEDED</c>). Retrying is safe.
/// </summary>
public sealed class DeadlineExceededException : Exception
{
    /// <summary>Creates the error.</summary>
    public DeadlineExceededException(string actor, DateTimeOffset deadline)
        : base($"{actor} reached the request after its deadline {deadline:O}; it was dropped without running")
    {
        Actor = actor;
    }

    /// <summary>The actor that dropped the request.</summary>
    public string Actor { get; }
}
