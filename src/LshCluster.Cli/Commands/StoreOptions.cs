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

    /// <summary>Creates a cluster with <paramref name="scheme"/> in <paramref name="store"/> and closes the store again.</summary>
    public static async Task CreateClusterAsync(string store, Core.Hashing.LshScheme scheme, CancellationToken cancellationToken)
    {
        await using var opened = DedupStores.Open(store);
        await DedupEngine.CreateAsync(opened, scheme, cancellationToken);
    }

    public static string Format(float value) => value.ToString("0.####", CultureInfo.InvariantCulture);
}
