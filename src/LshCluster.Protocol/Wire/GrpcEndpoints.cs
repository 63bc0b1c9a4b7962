using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LshCluster.Protocol.Wire;

/// <summary>What a server-side handler knows of its call.</summary>
/// <param name="Deadline">When the caller stops waiting (from <c>grpc-timeout</c>), or <see cref="DateTimeOffset.MaxValue"/>.</param>
/// <param name="CancellationToken">Cancelled when the caller goes away or the deadline passes.</param>
/// <param name="HttpContext">The HTTP/2 request underneath (headers for credentials, the peer's address).</param>
public sealed record GrpcCallContext(DateTimeOffset Deadline, CancellationToken CancellationToken, HttpContext HttpContext);

/// <summary>Settings of the gRPC endpoints.</summary>
public sealed class GrpcServerOptions
{
    /// <summary>Largest request message accepted.</summary>
    public int MaxReceiveMessageSize { get; set; } = GrpcWire.DefaultMaxMessageSize;

    /// <summary>
    /// Turns an exception a handler threw into a status and a message for the caller; null leaves it to the default
    /// (INTERNAL, logged). <see cref="RpcException"/> and deadlines are mapped before this is asked.
    /// </summary>
    public Func<Exception, RpcException?> MapException { get; set; } = _ => null;
}

/// <summary>
/// Maps gRPC methods onto ASP.NET Core endpoints: reads the framed request, runs the handler under the call's
/// deadline, writes the framed response and the <c>grpc-status</c> / <c>grpc-message</c> trailers.
/// </summary>
public static class GrpcEndpoints
{
    /// <summary>Maps a unary method.</summary>
    public static IEndpointConventionBuilder MapGrpcUnary<TRequest, TResponse>(
        this IEndpointRouteBuilder endpoints,
        GrpcMethod<TRequest, TResponse> method,
        Func<TRequest, GrpcCallContext, Task<TResponse>> handler)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        endpoints.MapPost(method.Path, context => HandleAsync(context, method, async (body, options, call) =>
        {
            var request = await GrpcWire.ReadMessageAsync(body, method.RequestParser, options.MaxReceiveMessageSize, call.CancellationToken).ConfigureAwait(false)
                ?? throw new RpcException(GrpcStatusCode.Internal, $"{method.Path} expects one request message; the stream held none");
            if (await GrpcWire.ReadMessageAsync(body, method.RequestParser, options.MaxReceiveMessageSize, call.CancellationToken).ConfigureAwait(false) is not null)
            {
                throw new RpcException(GrpcStatusCode.Internal, $"{method.Path} is unary; the stream held more than one request message");
            }

            return await handler(request, call).ConfigureAwait(false);
        }));

    /// <summary>Maps a client-streaming method: the handler reads the requests as they arrive.</summary>
    public static IEndpointConventionBuilder MapGrpcClientStreaming<TRequest, TResponse>(
        this IEndpointRouteBuilder endpoints,
        GrpcMethod<TRequest, TResponse> method,
        Func<IAsyncEnumerable<TRequest>, GrpcCallContext, Task<TResponse>> handler)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        Func<Stream, GrpcServerOptions, GrpcCallContext, Task<TResponse>> run = (body, options, call) =>
            handler(ReadAllAsync(body, method.RequestParser, options.MaxReceiveMessageSize, call.CancellationToken), call);
        return endpoints.MapPost(method.Path, context => HandleAsync(context, method, run));
    }

    private static async IAsyncEnumerable<T> ReadAllAsync<T>(Stream body, MessageParser<T> parser, int maxSize, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        while (await GrpcWire.ReadMessageAsync(body, parser, maxSize, cancellationToken).ConfigureAwait(false) is { } message)
        {
            yield return message;
        }
    }

    private static async Task HandleAsync<TRequest, TResponse>(
        HttpContext context,
        GrpcMethod<TRequest, TResponse> method,
        Func<Stream, GrpcServerOptions, GrpcCallContext, Task<TResponse>> run)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        var response = context.Response;
        var options = context.RequestServices.GetService<GrpcServerOptions>() ?? new GrpcServerOptions();
        if (context.Request.Protocol != "HTTP/2" || !response.SupportsTrailers())
        {
            // gRPC needs HTTP/2 trailers; say so in a way an HTTP/1.1 client can read.
            response.StatusCode = StatusCodes.Status426UpgradeRequired;
            response.Headers.Upgrade = "h2c";
            await response.WriteAsync($"{method.Path} is a gRPC method: call it over HTTP/2\n").ConfigureAwait(false);
            return;
        }

        if (context.Request.ContentType is not { } contentType || !contentType.StartsWith(GrpcWire.ContentType, StringComparison.OrdinalIgnoreCase))
        {
            response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            return;
        }

        // The body of a streaming call can be as long as the stream; the message size limit applies per message.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null;
        }

        // A timeout longer than a day is no deadline at all (and CancelAfter cannot take ~50 days or more).
        var timeout = GrpcWire.ParseTimeout(context.Request.Headers["grpc-timeout"]) is { } parsed && parsed <= TimeSpan.FromDays(1) ? parsed : (TimeSpan?)null;
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var deadline = DateTimeOffset.MaxValue;
        if (timeout is { } t)
        {
            deadline = DateTimeOffset.UtcNow + t;
            cancellation.CancelAfter(t);
        }

        response.ContentType = GrpcWire.ContentType;
        response.Headers["grpc-accept-encoding"] = "identity";
        var call = new GrpcCallContext(deadline, cancellation.Token, context);
        RpcException? failure;
        try
        {
            var result = await run(context.Request.Body, options, call).ConfigureAwait(false);
            await GrpcWire.WriteMessageAsync(response.Body, result, cancellation.Token).ConfigureAwait(false);
            failure = null;
        }
        catch (RpcException e)
        {
            failure = e;
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            failure = new RpcException(GrpcStatusCode.DeadlineExceeded, $"{method.Path} did not finish within its deadline ({timeout})");
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return; // the caller went away: nobody reads a status
        }
        catch (Exception e)
        {
            failure = options.MapException(e);
            if (failure is null)
            {
                context.RequestServices.GetService<ILoggerFactory>()?.CreateLogger(typeof(GrpcEndpoints)).LogError(e, "{Method} failed", method.Path);
                failure = new RpcException(GrpcStatusCode.Internal, $"{method.Path} failed on the server: {e.Message}", e);
            }
        }

        AppendStatus(response, failure?.Status ?? GrpcStatusCode.OK, failure?.Detail);
    }

    /// <summary>
    /// Ends a gRPC call that no handler will run (a refused credential) with <paramref name="status"/>: in trailers
    /// over HTTP/2, or as the HTTP status gRPC clients map to it where there are no trailers.
    /// </summary>
    public static Task RefuseAsync(HttpContext context, GrpcStatusCode status, string message)
    {
        var response = context.Response;
        if (!response.SupportsTrailers())
        {
            response.StatusCode = status switch
            {
                GrpcStatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
                GrpcStatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
                _ => StatusCodes.Status503ServiceUnavailable,
            };
            return response.WriteAsync(message + "\n");
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = GrpcWire.ContentType;
        AppendStatus(response, status, message);
        return Task.CompletedTask;
    }

    private static void AppendStatus(HttpResponse response, GrpcStatusCode status, string? message)
    {
        response.AppendTrailer("grpc-status", ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (message is not null)
        {
            response.AppendTrailer("grpc-message", GrpcWire.EncodeMessage(message));
        }
    }
}
