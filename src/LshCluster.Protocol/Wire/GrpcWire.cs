using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Google.Protobuf;

namespace LshCluster.Protocol.Wire;

/// <summary>
/// The encoding rules of gRPC over HTTP/2 (github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md): length-prefixed
/// messages, the <c>grpc-timeout</c> header, and the percent-encoded <c>grpc-message</c> trailer.
/// </summary>
public static class GrpcWire
{
    /// <summary>The content type of every gRPC request and response.</summary>
    public const string ContentType = "application/grpc";

    /// <summary>Largest message accepted by default: a full batch of 10,000 vectors of d = 1,536 fits.</summary>
    public const int DefaultMaxMessageSize = 64 * 1024 * 1024;

    private const int HeaderSize = 5;

    /// <summary>
    /// Buffers for whole messages. Not <see cref="ArrayPool{T}.Shared"/>: its large arrays were allocated afresh on
    /// most calls under load (a silo allocated ~300 MB of large-object buffers per 60,000-vector ingest through it),
    /// and each became garbage for a full collection. Up to 8 kept per power-of-two size, messages up to 16 MiB;
    /// larger ones (rare: the limit is 64 MiB) get an array of their own.
    /// </summary>
    private static readonly ArrayPool<byte> Buffers = ArrayPool<byte>.Create(16 * 1024 * 1024, 8);

    /// <summary>
    /// Reads the next length-prefixed message, or returns null at the end of the stream between messages.
    /// </summary>
    /// <exception cref="RpcException">
    /// RESOURCE_EXHAUSTED for a message over <paramref name="maxSize"/>, UNIMPLEMENTED for a compressed one,
    /// INTERNAL when the stream ends inside a message or the bytes do not parse.
    /// </exception>
    public static async ValueTask<T?> ReadMessageAsync<T>(Stream stream, MessageParser<T> parser, int maxSize, CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        var header = new byte[HeaderSize];
        var got = await stream.ReadAtLeastAsync(header, HeaderSize, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (got == 0)
        {
            return null;
        }

        if (got < HeaderSize)
        {
            throw new RpcException(GrpcStatusCode.Internal, $"the stream ended inside a message header ({got} of {HeaderSize} bytes)");
        }

        if (header[0] != 0)
        {
            throw new RpcException(GrpcStatusCode.Unimplemented, "compressed messages are not supported; send them uncompressed (grpc-encoding: identity)");
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(1));
        if (length > (uint)maxSize)
        {
            throw new RpcException(GrpcStatusCode.ResourceExhausted, $"a message of {length:N0} bytes exceeds the limit of {maxSize:N0}; send smaller batches");
        }

        var buffer = Buffers.Rent((int)length);
        try
        {
            got = await stream.ReadAtLeastAsync(buffer.AsMemory(0, (int)length), (int)length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (got < length)
            {
                throw new RpcException(GrpcStatusCode.Internal, $"the stream ended inside a message ({got:N0} of {length:N0} bytes)");
            }

            try
            {
                return parser.ParseFrom(buffer, 0, (int)length);
            }
            catch (InvalidProtocolBufferException e)
            {
                throw new RpcException(GrpcStatusCode.Internal, $"a message of {typeof(T).Name} does not parse: {e.Message}", e);
            }
        }
        finally
        {
            Buffers.Return(buffer);
        }
    }

    /// <summary>Writes one message with its 5-byte prefix (uncompressed flag, big-endian length).</summary>
    public static async ValueTask WriteMessageAsync(Stream stream, IMessage message, CancellationToken cancellationToken)
    {
        var length = message.CalculateSize();
        var buffer = Buffers.Rent(HeaderSize + length);
        try
        {
            Frame(message, length, buffer);
            await stream.WriteAsync(buffer.AsMemory(0, HeaderSize + length), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Buffers.Return(buffer);
        }
    }

    /// <summary>The length of a message with its prefix.</summary>
    public static long FramedLength(IMessage message) => HeaderSize + message.CalculateSize();

    /// <summary>One message framed into a new array.</summary>
    public static byte[] Frame(IMessage message)
    {
        var length = message.CalculateSize();
        var buffer = new byte[HeaderSize + length];
        Frame(message, length, buffer);
        return buffer;
    }

    private static void Frame(IMessage message, int length, byte[] buffer)
    {
        buffer[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(1), (uint)length);
        message.WriteTo(buffer.AsSpan(HeaderSize, length));
    }

    /// <summary>
    /// Parses a <c>grpc-timeout</c> value (at most 8 digits and a unit: H, M, S, m, u, n); null when malformed.
    /// </summary>
    public static TimeSpan? ParseTimeout(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length < 2 || value.Length > 9)
        {
            return null;
        }

        if (!long.TryParse(value.AsSpan(0, value.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
        {
            return null;
        }

        return value[^1] switch
        {
            'H' => TimeSpan.FromHours(amount),
            'M' => TimeSpan.FromMinutes(amount),
            'S' => TimeSpan.FromSeconds(amount),
            'm' => TimeSpan.FromMilliseconds(amount),
            'u' => TimeSpan.FromTicks(amount * 10),
            'n' => TimeSpan.FromTicks(amount / 100),
            _ => null,
        };
    }

    /// <summary>Formats a timeout in the coarsest unit that keeps it within 8 digits, rounding up.</summary>
    public static string FormatTimeout(TimeSpan timeout)
    {
        var ticks = Math.Max(1, timeout.Ticks);
        const long Max = 99_999_999;
        long microseconds = (ticks + 9) / 10;
        if (microseconds <= Max)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{microseconds}u");
        }

        long milliseconds = (ticks + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond;
        if (milliseconds <= Max)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{milliseconds}m");
        }

        long seconds = (ticks + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond;
        return seconds <= Max
            ? string.Create(CultureInfo.InvariantCulture, $"{seconds}S")
            : string.Create(CultureInfo.InvariantCulture, $"{Math.Min(Max, (seconds + 3599) / 3600)}H");
    }

    /// <summary>Percent-encodes a status message as <c>grpc-message</c> requires (UTF-8; bytes outside 0x20–0x7E and '%').</summary>
    public static string EncodeMessage(string message)
    {
        var bytes = Encoding.UTF8.GetBytes(message);
        var builder = new StringBuilder(bytes.Length);
        foreach (var b in bytes)
        {
            if (b is >= 0x20 and <= 0x7E and not (byte)'%')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }

    /// <summary>Decodes a percent-encoded <c>grpc-message</c>; malformed escapes are kept as they are.</summary>
    public static string DecodeMessage(string? encoded)
    {
        if (string.IsNullOrEmpty(encoded) || !encoded.Contains('%', StringComparison.Ordinal))
        {
            return encoded ?? string.Empty;
        }

        var bytes = new List<byte>(encoded.Length);
        for (var i = 0; i < encoded.Length; i++)
        {
            if (encoded[i] == '%' && i + 2 < encoded.Length
                && byte.TryParse(encoded.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
            {
                bytes.Add(b);
                i += 2;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(encoded[i].ToString()));
            }
        }

        return Encoding.UTF8.GetString([.. bytes]);
    }
}
