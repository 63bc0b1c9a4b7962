using System.Net;

namespace LshCluster.Silo.Hosting;

/// <summary>The HOST:PORT a server listens on, as the command line gives it.</summary>
internal static class ListenAddress
{
    /// <summary>Parses HOST:PORT (a numeric host, or localhost; an http:// URL is accepted too); port 0 picks a free one.</summary>
    /// <exception cref="ArgumentException">Not HOST:PORT; the message shows the form expected.</exception>
    public static IPEndPoint Parse(string listen)
    {
        var text = listen.Contains("://", StringComparison.Ordinal) ? new Uri(listen).Authority : listen;
        if (text.StartsWith("localhost:", StringComparison.OrdinalIgnoreCase))
        {
            text = "127.0.0.1" + text["localhost".Length..];
        }

        return IPEndPoint.TryParse(text, out var endpoint) && endpoint.Port is >= 0 and <= 65535
            ? endpoint
            : throw new ArgumentException($"listen: '{listen}' is not HOST:PORT with a numeric host (e.g. 127.0.0.1:7001 or 0.0.0.0:7001)", nameof(listen));
    }

    /// <summary>
    /// A port free on <paramref name="address"/> now (another process may take it before it is used). On Linux, one
    /// below the kernel's ephemeral range: a port the kernel hands out (bind to 0) can become the local end of any
    /// process's outgoing connection before the caller binds it, which made silos started side by side fail to bind.
    /// </summary>
    public static int FreePort(IPAddress address)
    {
        if (EphemeralLow() is { } low)
        {
            for (var attempt = 0; attempt < 1000; attempt++)
            {
                var port = Random.Shared.Next(Math.Max(1024, low - 12000), low);
                try
                {
                    using var taken = new System.Net.Sockets.TcpListener(address, port);
                    taken.Start();
                    return port;
                }
                catch (System.Net.Sockets.SocketException)
                {
                    // In use: try another.
                }
            }
        }

        using var probe = new System.Net.Sockets.TcpListener(address, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static int? EphemeralLow()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return int.TryParse(range[0], out var low) && low > 2048 ? low : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
