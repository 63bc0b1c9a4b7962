using System.Net;
using LshCluster.Protocol.V1;
using LshCluster.Protocol.Wire;
using Microsoft.AspNetCore.Routing;

namespace LshCluster.Protocol.Tests;

/// <summary>The gRPC wire glue between a real Kestrel server and the HttpClient-based client over loopback sockets.</summary>
public sealed class GrpcWireTests
{
    private static InsertRequest Batch(int count, int dimension = 4)
    {
        var request = new InsertRequest();
        for (var i = 0; i < count; i++)
        {
            var vector = new Vector { Id = $"v{i}" };
            vector.Values.Add(Enumerable.Range(0, dimension).Select(x => (float)(x + i)));
            request.Vectors.Add(vector);
        }

        return request;
    }

    // Echo service: one result per vector whose verdict id is the vector's id and cosine the sum of its values.
    private static InsertResponse Echo(IEnumerable<Vector> vectors)
    {
        var response = new InsertResponse();
        var index = 0;
        foreach (var v in vectors)
        {
            response.Results.Add(new InsertResult { Index = index++, Verdict = new Verdict { Id = v.Id, BestCosine = v.Values.Sum() } });
        }

        return response;
    }

    private static void MapEcho(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcUnary(PublicApi.Insert, (request, _) => Task.FromResult(Echo(request.Vectors)));
        endpoints.MapGrpcClientStreaming(PublicApi.InsertStream, async (requests, call) =>
        {
            var all = new List<Vector>();
            await foreach (var r in requests.WithCancellation(call.CancellationToken))
            {
                all.AddRange(r.Vectors);
            }

            return Echo(all);
        });
    }

    [Fact]
    public async Task Unary_call_round_trips_over_h2c()
    {
        await using var server = await TestServer.StartAsync(MapEcho);
        using var connection = new GrpcConnection(server.Address);
        var response = await connection.UnaryAsync(PublicApi.Insert, Batch(3));
        Assert.Equal(["v0", "v1", "v2"], response.Results.Select(r => r.Verdict.Id));
        Assert.Equal(1 + 2 + 3 + 4, response.Results[1].Verdict.BestCosine);
    }

    [Fact]
    public async Task Large_message_of_several_HTTP2_frames_round_trips()
    {
        await using var server = await TestServer.StartAsync(MapEcho);
        using var connection = new GrpcConnection(server.Address);
        var response = await connection.UnaryAsync(PublicApi.Insert, Batch(2_000, dimension: 784)); // ≈ 6 MB
        Assert.Equal(2_000, response.Results.Count);
        Assert.Equal("v1999", response.Results[^1].Verdict.Id);
    }

    [Fact]
    public async Task Client_streaming_delivers_every_message_in_order()
    {
        await using var server = await TestServer.StartAsync(MapEcho);
        using var connection = new GrpcConnection(server.Address);
        var call = connection.StartClientStreaming(PublicApi.InsertStream);
        for (var b = 0; b < 10; b++)
        {
            var batch = new InsertRequest();
            batch.Vectors.Add(new Vector { Id = $"b{b}", Values = { b } });
            await call.WriteAsync(batch);
        }

        var response = await call.CompleteAsync();
        Assert.Equal(Enumerable.Range(0, 10).Select(b => $"b{b}"), response.Results.Select(r => r.Verdict.Id));
    }

    [Fact]
    public async Task Client_streaming_writer_learns_of_a_call_that_failed()
    {
        await using var server = await TestServer.StartAsync(e => e.MapGrpcClientStreaming(PublicApi.InsertStream, (_, _) =>
            Task.FromException<InsertResponse>(new RpcException(GrpcStatusCode.PermissionDenied, "producer key required"))));
        using var connection = new GrpcConnection(server.Address);
        var call = connection.StartClientStreaming(PublicApi.InsertStream);
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            // The server refuses without reading: the writes must end with its status, not wait forever.
            for (var b = 0; b < 1_000; b++)
            {
                await call.WriteAsync(Batch(100, dimension: 100));
            }
        });
        Assert.Equal(GrpcStatusCode.PermissionDenied, error.Status);
    }

    [Fact]
    public async Task Handler_status_and_non_ascii_message_reach_the_client()
    {
        const string Detail = "items[0].id: 300 characters; at most 256 — über the limit, 100%";
        await using var server = await TestServer.StartAsync(e =>
            e.MapGrpcUnary(PublicApi.Insert, (_, _) => Task.FromException<InsertResponse>(new RpcException(GrpcStatusCode.InvalidArgument, Detail))));
        using var connection = new GrpcConnection(server.Address);
        var error = await Assert.ThrowsAsync<RpcException>(() => connection.UnaryAsync(PublicApi.Insert, Batch(1)));
        Assert.Equal(GrpcStatusCode.InvalidArgument, error.Status);
        Assert.Equal(Detail, error.Detail);
    }

    [Fact]
    public async Task Mapped_exception_becomes_its_status_and_others_become_internal()
    {
        var options = new GrpcServerOptions
        {
            MapException = e => e is TimeoutException ? new RpcException(GrpcStatusCode.ResourceExhausted, "busy: " + e.Message) : null,
        };
        await using var server = await TestServer.StartAsync(
            e =>
            {
                e.MapGrpcUnary(PublicApi.Insert, (_, _) => Task.FromException<InsertResponse>(new TimeoutException("shard 7 is full")));
                e.MapGrpcUnary(PublicApi.GetStats, (_, _) => Task.FromException<Stats>(new InvalidOperationException("broken")));
            },
            options);
        using var connection = new GrpcConnection(server.Address);
        var busy = await Assert.ThrowsAsync<RpcException>(() => connection.UnaryAsync(PublicApi.Insert, Batch(1)));
        Assert.Equal(GrpcStatusCode.ResourceExhausted, busy.Status);
        Assert.Equal("busy: shard 7 is full", busy.Detail);
        var broken = await Assert.ThrowsAsync<RpcException>(() => connection.UnaryAsync(PublicApi.GetStats, new GetStatsRequest()));
        Assert.Equal(GrpcStatusCode.Internal, broken.Status);
        Assert.Contains("broken", broken.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deadline_travels_to_the_server_and_ends_the_call()
    {
        var serverSaw = new TaskCompletionSource<TimeSpan>();
        await using var server = await TestServer.StartAsync(e => e.MapGrpcUnary(PublicApi.Insert, async (_, call) =>
        {
            serverSaw.TrySetResult(call.Deadline - DateTimeOffset.UtcNow);
            await Task.Delay(Timeout.Infinite, call.CancellationToken);
            return new InsertResponse();
        }));
        using var connection = new GrpcConnection(server.Address);
        var error = await Assert.ThrowsAsync<RpcException>(() => connection.UnaryAsync(PublicApi.Insert, Batch(1), DateTimeOffset.UtcNow.AddMilliseconds(500)));
        Assert.Equal(GrpcStatusCode.DeadlineExceeded, error.Status);
        var remaining = await serverSaw.Task;
        Assert.InRange(remaining, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(500));
    }

    [Theory]
    [InlineData("99999999S")]
    [InlineData("2000H")]
    public async Task A_timeout_too_long_to_schedule_means_no_deadline(string header)
    {
        var serverSaw = new TaskCompletionSource<DateTimeOffset>();
        await using var server = await TestServer.StartAsync(e => e.MapGrpcUnary(PublicApi.Insert, (request, call) =>
        {
            serverSaw.TrySetResult(call.Deadline);
            return Task.FromResult(Echo(request.Vectors));
        }));
        using var http = new HttpClient(new SocketsHttpHandler()) { BaseAddress = server.Address };
        using var message = new HttpRequestMessage(HttpMethod.Post, PublicApi.Insert.Path)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(GrpcWire.Frame(Batch(1))),
        };
        message.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(GrpcWire.ContentType);
        message.Headers.TryAddWithoutValidation("grpc-timeout", header);
        using var response = await http.SendAsync(message);
        await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("0", response.TrailingHeaders.GetValues("grpc-status").Single());
        Assert.Equal(DateTimeOffset.MaxValue, await serverSaw.Task);
    }

    [Fact]
    public async Task Message_over_the_limit_is_refused_with_resource_exhausted()
    {
        await using var server = await TestServer.StartAsync(MapEcho, new GrpcServerOptions { MaxReceiveMessageSize = 1024 });
        using var connection = new GrpcConnection(server.Address);
        var error = await Assert.ThrowsAsync<RpcException>(() => connection.UnaryAsync(PublicApi.Insert, Batch(100)));
        Assert.Equal(GrpcStatusCode.ResourceExhausted, error.Status);
        Assert.Contains("exceeds the limit of 1,024", error.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_method_is_unimplemented()
    {
        await using var server = await TestServer.StartAsync(MapEcho);
        using var connection = new GrpcConnection(server.Address);
        var error = await Assert.ThrowsAsync<RpcException>(() => connection.UnaryAsync(PublicApi.GetStats, new GetStatsRequest()));
        Assert.Equal(GrpcStatusCode.Unimplemented, error.Status);
    }

    [Fact]
    public async Task Server_that_is_not_listening_is_unavailable()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var connection = new GrpcConnection(new Uri($"http://127.0.0.1:{port}"));
        var error = await Assert.ThrowsAsync<RpcException>(() => connection.UnaryAsync(PublicApi.Insert, Batch(1)));
        Assert.Equal(GrpcStatusCode.Unavailable, error.Status);
    }

    [Fact]
    public async Task HTTP1_caller_is_told_to_use_HTTP2()
    {
        await using var server = await TestServer.StartAsync(MapEcho, protocols: Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1);
        using var http = new HttpClient { BaseAddress = server.Address };
        using var content = new ByteArrayContent(GrpcWire.Frame(Batch(1)));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(GrpcWire.ContentType);
        using var response = await http.PostAsync(PublicApi.Insert.Path, content);
        Assert.Equal(HttpStatusCode.UpgradeRequired, response.StatusCode);
        Assert.Contains("HTTP/2", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Truncated_and_compressed_messages_are_refused_by_the_reader()
    {
        var framed = GrpcWire.Frame(Batch(2));
        using var truncated = new MemoryStream(framed[..^3]);
        var error = await Assert.ThrowsAsync<RpcException>(async () => await GrpcWire.ReadMessageAsync(truncated, InsertRequest.Parser, 1 << 20, default));
        Assert.Equal(GrpcStatusCode.Internal, error.Status);

        framed[0] = 1;
        using var compressed = new MemoryStream(framed);
        error = await Assert.ThrowsAsync<RpcException>(async () => await GrpcWire.ReadMessageAsync(compressed, InsertRequest.Parser, 1 << 20, default));
        Assert.Equal(GrpcStatusCode.Unimplemented, error.Status);

        using var empty = new MemoryStream();
        Assert.Null(await GrpcWire.ReadMessageAsync(empty, InsertRequest.Parser, 1 << 20, default));
    }

    [Theory]
    [InlineData("1H", 3600_000)]
    [InlineData("2M", 120_000)]
    [InlineData("5S", 5_000)]
    [InlineData("250m", 250)]
    [InlineData("1500u", 1.5)]
    [InlineData("3000000n", 3)]
    public void Timeout_header_parses(string header, double milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), GrpcWire.ParseTimeout(header));

    [Theory]
    [InlineData("")]
    [InlineData("S")]
    [InlineData("123456789S")]
    [InlineData("-5S")]
    [InlineData("5s")]
    [InlineData("5 S")]
    public void Malformed_timeout_header_is_ignored(string header) => Assert.Null(GrpcWire.ParseTimeout(header));

    [Theory]
    [InlineData(0.0005)]
    [InlineData(1)]
    [InlineData(99_999)]
    [InlineData(100_000)]
    [InlineData(86_400_000)]
    [InlineData(1e12)]
    public void Formatted_timeout_is_valid_and_never_shorter(double milliseconds)
    {
        var timeout = TimeSpan.FromMilliseconds(milliseconds);
        var header = GrpcWire.FormatTimeout(timeout);
        Assert.InRange(header.Length, 2, 9);
        var parsed = GrpcWire.ParseTimeout(header);
        Assert.NotNull(parsed);
        Assert.True(parsed >= timeout || header.EndsWith('H'), $"{header} is shorter than {timeout}");
    }

    [Fact]
    public void Status_message_percent_encoding_round_trips()
    {
        var text = "a%b\tc — ü 😀";
        var encoded = GrpcWire.EncodeMessage(text);
        Assert.All(encoded, c => Assert.InRange(c, ' ', '~'));
        Assert.Equal("a%25b%09c %E2%80%94 %C3%BC %F0%9F%98%80", encoded);
        Assert.Equal(text, GrpcWire.DecodeMessage(encoded));
        Assert.Equal("100%", GrpcWire.DecodeMessage("100%"));
    }
}
