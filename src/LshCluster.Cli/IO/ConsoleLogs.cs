using Microsoft.Extensions.Logging;

namespace LshCluster.Cli.IO;

/// <summary>The server commands' log: one timestamped line per event on the console, the framework's only when it warns.</summary>
internal static class ConsoleLogs
{
    private static readonly Lazy<ILoggerFactory> Errors = new(() => Create(toStandardError: true));

    public static ILoggerFactory Create() => Create(toStandardError: false);

    /// <summary>
    /// The log of an engine a command runs in its own process (what it does on its own, such as fixing a learned scheme),
    /// on standard error so that the command's output stays its own.
    /// </summary>
    public static ILogger Engine => Errors.Value.CreateLogger("lshc");

    private static ILoggerFactory Create(bool toStandardError) => LoggerFactory.Create(b => b.AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.TimestampFormat = "HH:mm:ss.fff ";
    }).AddConsole(o => o.LogToStandardErrorThreshold = toStandardError ? LogLevel.Trace : LogLevel.None)
        .SetMinimumLevel(LogLevel.Information).AddFilter("Microsoft", LogLevel.Warning));
}
