using System.Net;
using System.Net.Http.Headers;
using System.Threading.Channels;
using Google.Protobuf;

namespace LshCluster.Protocol.Wire;

/// <summary>
/// A gRPC client for one server address over <see cref="HttpClient"/> and HTTP/2 (h2c for <c>http://</c>, TLS for
/// <c>https://</c>). Thread-safe; calls are multiplexed on the handler's connections.
/// </summary>
public sealed class GrpcConnection : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;

    /// <summary>Opens a connection to <paramref name="address"/> with its own handler.</summary>
    public GrpcConnection(Uri address, int maxReceiveMessageSize = GrpcWire.DefaultMaxMessageSize)
        : this(address, CreateHandler(), maxReceiveMessageSize, ownsHandler: true)
    {
    }

    /// <summary>Calls <paramref name="address"/> through <paramref name="handler"/> (shared between connections, or with TLS settings).</summary>
    public GrpcConnection(Uri address, HttpMessageHandler handler, int maxReceiveMessageSize = GrpcWire.DefaultMaxMessageSize, bool ownsHandler = false)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"address: '{address}' must be an http:// (h2c) or https:// URL", nameof(address));
        }

        Address = address;
        MaxReceiveMessageSize = maxReceiveMessageSize;
        _http = new HttpClient(handler, ownsHandler) { BaseAddress = address, Timeout = Timeout.InfiniteTimeSpan };
        _ownsHttp = true;
    }

    /// <summary>The server's address.</summary>
    public Uri Address { get; }

    /// <summary>Largest response message accepted.</summary>
    public int MaxReceiveMessageSize { get; }

    /// <summary>Headers sent with every call (credentials).</summary>
    public IDictionary<string, string> DefaultHeaders { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// A handler suited to gRPC: several HTTP/2 connections when one fills, keep-alive pings, no proxy. With
    /// <paramref name="trustedRoot"/>, https:// servers must present a certificate that chains to it (a cluster's own
    /// CA or self-signed certificate) instead of one the machine trusts.
    /// </summary>
    public static SocketsHttpHandler CreateHandler(System.Security.Cryptography.X509Certificates.X509Certificate2? trustedRoot = null)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            KeepAlivePingDelay = TimeSpan.FromSeconds(20),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(5),
            UseProxy = false,
        };
        if (trustedRoot is not null)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (certificate is null)
                {
                    return false;
                }

                // Names must still match; only the trust anchor is ours.
                if ((errors & System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                {
                    return false;
                }

                using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
                chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(trustedRoot);
                chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
                return chain.Build(new System.Security.Cryptography.X509Certificates.X509Certificate2(certificate));
            };
        }

        return handler;
    }

    /// <summary>Sends one request and returns the one response.</summary>
    /// <exception cref="RpcException">The call ended with a non-OK status (DEADLINE_EXCEEDED when <paramref name="deadline"/> passed, UNAVAILABLE when the server could not be reached).</exception>
    public async Task<TResponse> UnaryAsync<TRequest, TResponse>(GrpcMethod<TRequest, TResponse> method, TRequest request, DateTimeOffset? deadline = null, CancellationToken cancellationToken = default)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        return await CallAsync(method, new MessageContent(request), deadline, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Starts a client-streaming call: write requests with <see cref="ClientStreamingCall{TRequest, TResponse}.WriteAsync"/>,
    /// then <see cref="ClientStreamingCall{TRequest, TResponse}.CompleteAsync"/> for the response.
    /// </summary>
    public ClientStreamingCall<TRequest, TResponse> StartClientStreaming<TRequest, TResponse>(GrpcMethod<TRequest, TResponse> method, DateTimeOffset? deadline = null, CancellationToken cancellationToken = default)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        var requests = Channel.CreateBounded<TRequest>(new BoundedChannelOptions(4) { SingleReader = true, SingleWriter = true });
        var content = new StreamingContent<TRequest>(requests.Reader);
        var response = CallAsync(method, content, deadline, cancellationToken);
        return new ClientStreamingCall<TRequest, TResponse>(requests.Writer, response);
    }

    private async Task<TResponse> CallAsync<TRequest, TResponse>(GrpcMethod<TRequest, TResponse> method, HttpContent content, DateTimeOffset? deadline, CancellationToken cancellationToken)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        content.Headers.ContentType = new MediaTypeHeaderValue(GrpcWire.ContentType);
        using var message = new HttpRequestMessage(HttpMethod.Post, method.Path)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = content,
        };
        message.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));
        foreach (var (name, value) in DefaultHeaders)
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }

        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (deadline is { } d && d != DateTimeOffset.MaxValue)
        {
            var remaining = d - DateTimeOffset.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                throw new RpcException(GrpcStatusCode.DeadlineExceeded, $"{method.Path}: the deadline passed before the call was sent");
            }

            message.Headers.TryAddWithoutValidation("grpc-timeout", GrpcWire.FormatTimeout(remaining));
            cancellation.CancelAfter(remaining);
        }

        try
        {
            using var response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellation.Token).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new RpcException(StatusOfHttp(response.StatusCode), $"{method.Path}: the server answered HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            // Trailers-only response: the status is in the headers and there is no body.
            if (Status(response.Headers) is { } early && early.Status != GrpcStatusCode.OK)
            {
                throw early;
            }

            var body = await response.Content.ReadAsStreamAsync(cancellation.Token).ConfigureAwait(false);
            var result = await GrpcWire.ReadMessageAsync(body, method.ResponseParser, MaxReceiveMessageSize, cancellation.Token).ConfigureAwait(false);
            while (await body.ReadAsync(new byte[1], cancellation.Token).ConfigureAwait(false) > 0)
            {
                // Drain to the end so that the trailers arrive.
            }

            var status = Status(response.TrailingHeaders) ?? Status(response.Headers)
                ?? throw new RpcException(GrpcStatusCode.Internal, $"{method.Path}: the response ended without a grpc-status");
            if (status.Status != GrpcStatusCode.OK)
            {
                throw status;
            }

            return result ?? throw new RpcException(GrpcStatusCode.Internal, $"{method.Path}: the server sent OK without a response message");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && cancellation.IsCancellationRequested)
        {
            throw new RpcException(GrpcStatusCode.DeadlineExceeded, $"{method.Path}: no answer from {Address} before the deadline");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new RpcException(GrpcStatusCode.Cancelled, $"{method.Path}: cancelled by the caller");
        }
        catch (HttpRequestException e)
        {
            throw new RpcException(GrpcStatusCode.Unavailable, $"{method.Path}: {Address} cannot be reached ({e.Message})", e);
        }
        catch (IOException e)
        {
            throw new RpcException(GrpcStatusCode.Unavailable, $"{method.Path}: the connection to {Address} broke ({e.Message})", e);
        }
    }

    private static RpcException? Status(HttpHeaders headers)
    {
        if (!headers.TryGetValues("grpc-status", out var values))
        {
            return null;
        }

        var text = values.FirstOrDefault();
        var code = int.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var c) ? (GrpcStatusCode)c : GrpcStatusCode.Unknown;
        var detail = headers.TryGetValues("grpc-message", out var messages) ? GrpcWire.DecodeMessage(messages.FirstOrDefault()) : string.Empty;
        return new RpcException(code, detail);
    }

    // The HTTP-to-gRPC status mapping of the gRPC spec, for responses that never reached a gRPC handler.
    private static GrpcStatusCode StatusOfHttp(HttpStatusCode code) => code switch
    {
        HttpStatusCode.BadRequest => GrpcStatusCode.Internal,
        HttpStatusCode.Unauthorized => GrpcStatusCode.Unauthenticated,
        HttpStatusCode.Forbidden => GrpcStatusCode.PermissionDenied,
        HttpStatusCode.NotFound => GrpcStatusCode.Unimplemented,
        HttpStatusCode.TooManyRequests or HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout => GrpcStatusCode.Unavailable,
        _ => GrpcStatusCode.Unknown,
    };

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    /// <summary>
    /// One message, framed into a pooled buffer when HttpClient sends it: batches of vectors are megabytes, and a new
    /// array for each would be a large-object allocation per call.
    /// </summary>
    private sealed class MessageContent(IMessage message) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
            GrpcWire.WriteMessageAsync(stream, message, cancellationToken).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = GrpcWire.FramedLength(message);
            return true;
        }
    }

    /// <summary>A request body that writes each message as the caller hands it over.</summary>
    private sealed class StreamingContent<T>(ChannelReader<T> requests) : HttpContent
        where T : class, IMessage<T>
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            await SerializeToStreamAsync(stream, context, CancellationToken.None).ConfigureAwait(false);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await foreach (var request in requests.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                await GrpcWire.WriteMessageAsync(stream, request, cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}

/// <summary>A client-streaming call in progress.</summary>
public sealed class ClientStreamingCall<TRequest, TResponse>
{
    private readonly ChannelWriter<TRequest> _requests;
    private readonly Task<TResponse> _response;

    internal ClientStreamingCall(ChannelWriter<TRequest> requests, Task<TResponse> response)
    {
        _requests = requests;
        _response = response;
    }

    /// <summary>Sends one request message; waits while earlier ones are still being written.</summary>
    /// <exception cref="RpcException">The call already ended (its status says why).</exception>
    public async Task WriteAsync(TRequest request, CancellationToken cancellationToken = default)
    {
        // The server may end the call without reading on (a refusal): then the write must end with its status.
        var write = _requests.WriteAsync(request, cancellationToken).AsTask();
        if (await Task.WhenAny(write, _response).ConfigureAwait(false) == write)
        {
            await write.ConfigureAwait(false);
            return;
        }

        _requests.TryComplete();
        await _response.ConfigureAwait(false); // throws the call's status
        throw new RpcException(GrpcStatusCode.FailedPrecondition, "the server answered before the stream was complete");
    }

    /// <summary>Ends the request stream and waits for the response.</summary>
    public Task<TResponse> CompleteAsync()
    {
        _requests.TryComplete();
        return _response;
    }
}
