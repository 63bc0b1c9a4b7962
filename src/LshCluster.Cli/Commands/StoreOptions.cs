using System.CommandLine;
using System.Globalization;
using LshCluster.Silo.Engine;
using LshCluster.Storage;

namespace LshCluster.Cli.Commands;

/// <summary>The <c>--store</c> and <c>--rung</c> options shared by the engine commands, and opening the engine.</summary>
internal static class StoreOptions
{
    /// <summary>Where <c>--store</c> comes from when it is not given: keeps a database password out of the process list.</summary>
    public const string EnvironmentVariable = "LSHC_STORE";

    public static Option<string> Store()
    {
        var option = new Option<string>("--store")
        {
            Description = $"sqlite:PATH (embedded) or postgres:CONNECTION-STRING (default: ${EnvironmentVariable})",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable(EnvironmentVariable) ?? string.Empty,
        };
        option.Validators.Add(result =>
        {
            if (string.IsNullOrEmpty(result.GetValueOrDefault<string>()))
            {
                result.AddError($"--store: name the store (sqlite:PATH or postgres:CONNECTION-STRING), or set {EnvironmentVariable}");
            }
        });
        return option;
    }

    public static Option<float?> Rung() => new("--rung") { Description = "Similarity rung (default: the highest)" };

    public static Task<DedupEngine> OpenAsync(string store, double? recallSampleRate = null, TimeSpan? feedRetention = null)
    {
        var options = new DedupEngineOptions { Log = IO.ConsoleLogs.Engine };
        options.RecallSampleRate = recallSampleRate ?? options.RecallSampleRate;
        options.FeedRetention = feedRetention ?? options.FeedRetention;
        return DedupEngine.OpenAsync(DedupStores.Open(store), options);
    }

    /// <summary><c>--feed-retention</c>: how long the change feed keeps events, as 7d, 12h, 30m or 90s.</summary>
    public static Option<TimeSpan> FeedRetention()
    {
        var option = new Option<TimeSpan>("--feed-retention")
        {
            Description = "How long the change feed keeps events (lshc watch, gRPC Watch, GET /v1/events): 7d, 12h, 30m or 90s",
            DefaultValueFactory = _ => new DedupEngineOptions().FeedRetention,
            CustomParser = result =>
            {
                var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : string.Empty;
                if (text.Length >= 2 && double.TryParse(text.AsSpan(0, text.Length - 1), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0
                    && text[^1] switch { 'd' => TimeSpan.FromDays(n), 'h' => TimeSpan.FromHours(n), 'm' => TimeSpan.FromMinutes(n), 's' => TimeSpan.FromSeconds(n), _ => (TimeSpan?)null } is { } span)
                {
                    return span;
                }

                result.AddError($"--feed-retention: '{text}' is not a duration; give a positive number and a unit: 7d, 12h, 30m or 90s");
                return default;
            },
        };
        return option;
    }

    /// <summary>
    /// <c>--recall-sample</c>: the share of inserts also matched exactly against every stored vector to measure live
    /// recall (docs/api.md); 0 turns it off.
    /// </summary>
    public static Option<double> RecallSample() => new("--recall-sample")
    {
        Description = "Share of inserts also matched exactly against every stored vector, to measure live recall (at most 5% of a core); 0: off",
        DefaultValueFactory = _ => new DedupEngineOptions().RecallSampleRate,
    };

    /// <summary>Creates a cluster with <paramref name="scheme"/> in <paramref name="store"/> and closes the store again.</summary>
    public static async Task CreateClusterAsync(string store, Core.Hashing.LshScheme scheme, CancellationToken cancellationToken)
    {
        await using var opened = DedupStores.Open(store);
        await DedupEngine.CreateAsync(opened, scheme, cancellationToken);
    }

    public static string Format(float value) => value.ToString("0.####", CultureInfo.InvariantCulture);
}
