using System.Data.Common;
using LshCluster.Silo.Engine;

namespace LshCluster.Silo.Http;

/// <summary>
/// What a failure means to a caller, in the words both APIs give it: REST as problem details
/// (<see cref="ProblemMapping"/>), gRPC as statuses (<c>GrpcServices</c>).
/// </summary>
public static class FailureMessages
{
    /// <summary>A refused argument's message without .NET's "(Parameter 'x')" suffix: the message names the field.</summary>
    public static string Of(ArgumentException e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return e.ParamName is { } name ? e.Message.Replace($" (Parameter '{name}')", string.Empty, StringComparison.Ordinal) : e.Message;
    }

    /// <summary>
    /// Why the cluster cannot answer now, when a retry of the same <paramref name="what"/> ("call", "request") may
    /// succeed; null when <paramref name="e"/> is not such a failure.
    /// </summary>
    public static string? Unavailable(Exception e, string what) => e switch
    {
        NotServingException or EngineStoppedException or ShardUnavailableException or Abstractions.Shards.ShardActivationException => e.Message,
        DbException or IOException or System.Net.Sockets.SocketException =>
            $"the cluster's database cannot be reached now ({e.Message}); nothing was changed by this {what}, retry it",

        // A grain call that timed out or an activation given up (a shard loading or moving); the caller's own deadline
        // and cancellation are answered before this is asked (gRPC), or nobody reads the answer (REST).
        TimeoutException or OperationCanceledException =>
            $"a shard did not answer in time ({e.Message}); it may be loading or moving; nothing of this {what} was acknowledged, retry it",
        _ => null,
    };
}
