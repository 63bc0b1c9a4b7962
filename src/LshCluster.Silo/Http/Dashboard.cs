using System.Security.Cryptography;
using System.Text;
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
    private static readonly Lazy<(string Html, string Policy)> Page = new(() =>
    {
        using var stream = typeof(Dashboard).Assembly.GetManifestResourceStream("LshCluster.Silo.Http.Dashboard.index.html")
            ?? throw new InvalidOperationException("the dashboard page is missing from the assembly");
        using var reader = new StreamReader(stream);
        var html = reader.ReadToEnd();
        return (html, ContentSecurityPolicy(html));
    });

    /// <summary>Maps <c>/</c>.</summary>
    public static void Map(IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet("/", (HttpContext context) =>
            {
                var (html, policy) = Page.Value;
                var headers = context.Response.Headers;
                headers.ContentSecurityPolicy = policy;
                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = "no-referrer";
                return Results.Content(html, "text/html; charset=utf-8");
            })
            .WithName("Dashboard").WithSummary("The dashboard (HTML)").ExcludeFromDescription();

    // The page holds an API key in sessionStorage once given: it runs its own script only (by hash), talks to this
    // origin only, and is never framed by another site.
    private static string ContentSecurityPolicy(string html)
    {
        const string Open = "<script>", Close = "</script>";
        var start = html.IndexOf(Open, StringComparison.Ordinal) + Open.Length;
        var script = html[start..html.IndexOf(Close, start, StringComparison.Ordinal)];
        // Browsers hash the script as parsed, with CRLF and CR turned into LF (a checkout may have CRLF).
        var hash = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(script.ReplaceLineEndings("\n"))));
        return $"default-src 'none'; script-src 'sha256-{hash}'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
    }
}
