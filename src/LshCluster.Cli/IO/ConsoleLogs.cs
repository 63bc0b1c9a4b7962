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

    private static readonly Lazy<ILoggerFactory> Errors = new(() => LoggerFactory.Create(b => b.AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.TimestampFormat = "HH:mm:ss.fff ";
    }).AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Information)));

    /// <summary>
    /// The log of an engine a command runs in its own process (what it does on its own, such as fixing a learned scheme),
    /// on standard error so that the command's output stays its own.
    /// </summary>
    public static ILogger Engine => Errors.Value.CreateLogger("lshc");
}
