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

    /// <summary>A port free on <paramref name="address"/> now (another process may take it before it is used).</summary>
    public static int FreePort(IPAddress address)
    {
        using var probe = new System.Net.Sockets.TcpListener(address, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
