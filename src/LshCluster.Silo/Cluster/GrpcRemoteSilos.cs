using System.Collections.Concurrent;
using System.Threading.Channels;
using LshCluster.Protocol;
using LshCluster.Protocol.Internal;
using LshCluster.Protocol.V1;
using LshCluster.Protocol.Wire;

namespace LshCluster.Silo.Cluster;

/// <summary>
/// The other silos over the internal gRPC service. Shard calls to one silo are gathered into few messages: while a
/// message is on the wire, the calls made meanwhile queue and leave together in the next one (as Orleans batches
/// messages per connection), so a find that climbs one parent pointer at a time does not cost one RPC per step.
/// </summary>
internal sealed class GrpcRemoteSilos : IRemoteSilos, IDisposable
{
    private const int MaxCallsPerMessage = 4096;

    // Well under the receiver's message limit (64 MiB): verifications carry whole vectors.
    private const int MaxBytesPerMessage = 4 * 1024 * 1024;
    private const int SendersPerSilo = 4;
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, RemoteSilo> _silos = new(StringComparer.Ordinal);
    private readonly SocketsHttpHandler _handler;
    private readonly string? _clusterSecret;

    /// <param name="trustedRoot">What the other silos' TLS certificates must chain to; null: the machine's trust store.</param>
    /// <param name="clusterSecret">Presented to the other silos on every call; null when the cluster has none.</param>
    public GrpcRemoteSilos(System.Security.Cryptography.X509Certificates.X509Certificate2? trustedRoot = null, string? clusterSecret = null)
    {
        _handler = GrpcConnection.CreateHandler(trustedRoot);
        _clusterSecret = clusterSecret;
    }

    public Task<ShardReply> CallAsync(string address, ShardCall call, CancellationToken cancellationToken = default) =>
        Silo(address).CallAsync(call, cancellationToken);

    public Task<InsertResponse> InsertHashedAsync(string address, HashedInsertRequest request, DateTimeOffset deadline, CancellationToken cancellationToken = default) =>
        Silo(address).Connection.UnaryAsync(InternalApi.InsertHashed, request, deadline, cancellationToken);

    public Task<DeleteResponse> DeleteAtHomeAsync(string address, DeleteRequest request, DateTimeOffset deadline, CancellationToken cancellationToken = default) =>
        Silo(address).Connection.UnaryAsync(InternalApi.DeleteAtHome, request, deadline, cancellationToken);

    private RemoteSilo Silo(string address) => _silos.GetOrAdd(address, a =>
    {
        var connection = new GrpcConnection(new Uri(a), _handler);
        if (_clusterSecret is not null)
        {
            connection.DefaultHeaders["authorization"] = "Bearer " + _clusterSecret;
        }

        return new RemoteSilo(connection);
    });

    public void Dispose()
    {
        foreach (var silo in _silos.Values)
        {
            silo.Dispose();
        }

        _handler.Dispose();
    }

    private sealed class RemoteSilo : IDisposable
    {
        private readonly Channel<(ShardCall Call, TaskCompletionSource<ShardReply> Done)> _queue =
            Channel.CreateUnbounded<(ShardCall, TaskCompletionSource<ShardReply>)>();

        public RemoteSilo(GrpcConnection connection)
        {
            Connection = connection;
            for (var i = 0; i < SendersPerSilo; i++)
            {
                _ = Task.Run(SendAsync);
            }
        }

        public GrpcConnection Connection { get; }

        public Task<ShardReply> CallAsync(ShardCall call, CancellationToken cancellationToken)
        {
            var done = new TaskCompletionSource<ShardReply>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (!_queue.Writer.TryWrite((call, done)))
            {
                throw new RpcException(GrpcStatusCode.Unavailable, $"{Connection.Address}: this silo is shutting down");
            }

            return done.Task.WaitAsync(cancellationToken);
        }

        private async Task SendAsync()
        {
            var reader = _queue.Reader;
            var batch = new List<(ShardCall Call, TaskCompletionSource<ShardReply> Done)>();
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                batch.Clear();
                var bytes = 0;
                while (batch.Count < MaxCallsPerMessage && bytes < MaxBytesPerMessage && reader.TryRead(out var item))
                {
                    batch.Add(item);
                    bytes += item.Call.CalculateSize();
                }

                if (batch.Count == 0)
                {
                    continue;
                }

                var request = new ShardCalls();
                request.Calls.AddRange(batch.Select(b => b.Call));
                try
                {
                    var replies = await Connection.UnaryAsync(InternalApi.Call, request, DateTimeOffset.UtcNow + CallTimeout).ConfigureAwait(false);
                    if (replies.Replies.Count != batch.Count)
                    {
                        throw new RpcException(GrpcStatusCode.Internal, $"{Connection.Address} answered {replies.Replies.Count} of {batch.Count} shard calls");
                    }

                    for (var i = 0; i < batch.Count; i++)
                    {
                        batch[i].Done.TrySetResult(replies.Replies[i]);
                    }
                }
                catch (Exception e)
                {
                    foreach (var b in batch)
                    {
                        b.Done.TrySetException(e);
                    }
                }
            }
        }

        public void Dispose()
        {
            _queue.Writer.TryComplete();
            Connection.Dispose();
        }
    }
}
