using Microsoft.Extensions.Logging;

namespace LshCluster.Cli.IO;

/// <summary>The server commands' log: one timestamped line per event on the console, the framework's only when it warns.</summary>
internal static class ConsoleLogs
{
    public static ILoggerFactory Create() => LoggerFactory.Create(b => b.AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.TimestampFormat = "HH:mm:ss.fff ";
    }).SetMinimumLevel(LogLevel.Information).AddFilter("Microsoft", LogLevel.Warning));
}
