using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace LshCluster.Silo.Http;

/// <summary>
/// The dashboard at <c>/</c>: one HTML page with its script inline (no front-end build step), compiled into the
/// assembly, reading the REST API. Silos and their shards, ingest and duplicate rates, cluster sizes, the largest
/// clusters and a cluster browser that draws members as images when the vectors are images (784 values: 28×28, or
/// <c>/?image=WxH</c>).
/// </summary>
public static class Dashboard
{
    private static readonly Lazy<string> Page = new(() =>
    {
        using var stream = typeof(Dashboard).Assembly.GetManifestResourceStream("LshCluster.Silo.Http.Dashboard.index.html")
            ?? throw new InvalidOperationException("the dashboard page is missing from the assembly");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    /// <summary>Maps <c>/</c>.</summary>
    public static void Map(IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet("/", () => Results.Content(Page.Value, "text/html; charset=utf-8"))
            .WithName("Dashboard").WithSummary("The dashboard (HTML)").ExcludeFromDescription();
}
