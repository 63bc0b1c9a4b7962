using System.CommandLine;
using System.Globalization;
using LshCluster.Silo.Engine;
using LshCluster.Storage;

namespace LshCluster.Cli.Commands;

/// <summary>The <c>--store</c> and <c>--rung</c> options shared by the engine commands, and opening the engine.</summary>
internal static class StoreOptions
{
    public static Option<string> Store() => new("--store")
    {
        Description = "sqlite:PATH (embedded) or postgres:CONNECTION-STRING",
        Required = true,
    };

    public static Option<float?> Rung() => new("--rung") { Description = "Similarity rung (default: the highest)" };

    public static Task<DedupEngine> OpenAsync(string store) => DedupEngine.OpenAsync(DedupStores.Open(store));

    public static string Format(float value) => value.ToString("0.####", CultureInfo.InvariantCulture);
}
