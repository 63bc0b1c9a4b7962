using Google.Protobuf;

namespace LshCluster.Protocol.Wire;

/// <summary>One RPC: its path on the wire (<c>/package.Service/Method</c>) and how to parse its messages.</summary>
public sealed class GrpcMethod<TRequest, TResponse>
    where TRequest : IMessage<TRequest>
    where TResponse : IMessage<TResponse>
{
    /// <summary>Describes <paramref name="service"/>/<paramref name="method"/> (the service's full proto name).</summary>
    public GrpcMethod(string service, string method, MessageParser<TRequest> requestParser, MessageParser<TResponse> responseParser)
    {
        Path = $"/{service}/{method}";
        RequestParser = requestParser;
        ResponseParser = responseParser;
    }

    /// <summary>The HTTP/2 <c>:path</c>.</summary>
    public string Path { get; }

    /// <summary>Parses requests.</summary>
    public MessageParser<TRequest> RequestParser { get; }

    /// <summary>Parses responses.</summary>
    public MessageParser<TResponse> ResponseParser { get; }

    /// <inheritdoc />
    public override string ToString() => Path;
}
