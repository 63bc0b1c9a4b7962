using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;

namespace LshCluster.Client;

/// <summary>
/// One Grpc.Net.Client channel per silo address over one shared HTTP/2 handler, and the call options every call
/// carries (deadline, credentials). Thread-safe.
/// </summary>
internal sealed class SiloChannels : IDisposable
{
    /// <summary>Largest response accepted: a full batch's verdicts, or a large cluster page.</summary>
    private const int MaxReceiveMessageSize = 64 * 1024 * 1024;

    private readonly SocketsHttpHandler _handler;
    private readonly ConcurrentDictionary<string, GrpcChannel> _channels = new(StringComparer.Ordinal);
    private readonly Metadata _headers = [];

    public SiloChannels(LshClusterClientOptions options)
    {
        _handler = CreateHandler(options.TrustedCertificate);
        foreach (var (name, value) in options.Headers)
        {
            _headers.Add(name.ToLowerInvariant(), value);
        }

        if (options.ApiKey is { } key)
        {
            _headers.Add("authorization", "Bearer " + key);
        }
    }

    /// <summary>The call invoker for the silo at <paramref name="address"/>.</summary>
    public CallInvoker this[string address] => _channels.GetOrAdd(address, a => GrpcChannel.ForAddress(a, new GrpcChannelOptions
    {
        HttpHandler = _handler,
        DisposeHttpClient = false,
        MaxReceiveMessageSize = MaxReceiveMessageSize,
    })).CreateCallInvoker();

    /// <summary>Options for one call that must end by <paramref name="deadline"/>.</summary>
    public CallOptions Options(DateTimeOffset deadline, CancellationToken cancellationToken) =>
        new(_headers, deadline.UtcDateTime, cancellationToken);

    /// <summary>
    /// A handler suited to gRPC: several HTTP/2 connections when one fills, keep-alive pings, no proxy. With
    /// <paramref name="trustedRoot"/>, https:// silos must present a certificate that chains to it (a cluster's own CA
    /// or self-signed certificate) instead of one the machine trusts.
    /// </summary>
    private static SocketsHttpHandler CreateHandler(X509Certificate2? trustedRoot)
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
                // Names must still match; only the trust anchor is ours.
                if (certificate is null || (errors & System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                {
                    return false;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(trustedRoot);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(new X509Certificate2(certificate));
            };
        }

        return handler;
    }

    public void Dispose()
    {
        foreach (var channel in _channels.Values)
        {
            channel.Dispose();
        }

        _handler.Dispose();
    }
}
