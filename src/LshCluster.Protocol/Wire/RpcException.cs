namespace LshCluster.Protocol.Wire;

/// <summary>A call that ended with a non-OK gRPC status, on either side of the wire.</summary>
public sealed class RpcException : Exception
{
    /// <summary>Creates the exception for <paramref name="status"/> with a message for people.</summary>
    public RpcException(GrpcStatusCode status, string detail, Exception? inner = null)
        : base($"{status}: {detail}", inner)
    {
        Status = status;
        Detail = detail;
    }

    /// <summary>The status code.</summary>
    public GrpcStatusCode Status { get; }

    /// <summary>The <c>grpc-message</c>: what went wrong, for people.</summary>
    public string Detail { get; }
}
