using Microsoft.Extensions.DependencyInjection;

namespace LshCluster.Client;

/// <summary>Registers the client with a host's services.</summary>
public static class ServiceCollectionExtensions
{
    /// <summary>
    /// Adds a singleton <see cref="LshClusterClient"/> configured by <paramref name="configure"/>; it connects (reads the
    /// scheme and the shard map) when first resolved.
    /// </summary>
    public static IServiceCollection AddLshClusterClient(this IServiceCollection services, Action<LshClusterClientOptions> configure)
    {
        var options = new LshClusterClientOptions();
        configure(options);
        options.Validate();
        services.AddSingleton(options);
        services.AddSingleton(_ => LshClusterClient.ConnectAsync(options).GetAwaiter().GetResult());
        return services;
    }
}
