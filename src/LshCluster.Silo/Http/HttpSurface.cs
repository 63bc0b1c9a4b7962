using System.Text.Json;
using System.Text.Json.Serialization;
using LshCluster.Silo.Diagnostics;
using LshCluster.Silo.Security;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.OpenApi;

namespace LshCluster.Silo.Http;

/// <summary>
/// Everything a person or a script reaches over plain HTTP: the REST API, health checks and the OpenAPI document at
/// <c>/openapi.json</c>. A silo serves it on its HTTP port beside the gRPC port; <c>lshc serve</c> on its only port.
/// </summary>
public static class HttpSurface
{
    private const string BearerScheme = "bearer";

    /// <summary>snake_case names, as in the query strings (<c>min_size</c>, <c>page_size</c>).</summary>
    public static void ConfigureJson(JsonSerializerOptions json)
    {
        json.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        json.DictionaryKeyPolicy = JsonNamingPolicy.SnakeCaseLower;
        json.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        json.NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals;
    }

    /// <summary>
    /// A slim web host that logs to <paramref name="logs"/> (or nowhere) with the routes' services registered, checking
    /// callers against <paramref name="credentials"/>.
    /// </summary>
    public static WebApplicationBuilder CreateBuilder(ILoggerFactory? logs, Credentials credentials)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (logs is not null)
        {
            builder.Services.AddSingleton(logs);
        }

        AddServices(builder.Services, credentials);
        return builder;
    }

    /// <summary>Registers what the routes need.</summary>
    public static void AddServices(IServiceCollection services, Credentials credentials)
    {
        services.AddAccessControl(credentials);
        services.AddLshClusterMetrics();
        services.Configure<JsonOptions>(o => ConfigureJson(o.SerializerOptions));

        // Binding failures (malformed JSON) throw, so that ProblemMapping answers with the field at fault.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddProblemDetails();
        services.AddOpenApi("v1", o =>
        {
            o.AddDocumentTransformer((document, _, _) =>
            {
                document.Info.Title = "LshCluster";
                document.Info.Description = "Near-duplicate detection for embedding vectors: insert, query, clusters, cluster state.";
                if (credentials.KeysRequired)
                {
                    document.Components ??= new OpenApiComponents();
                    document.Components.SecuritySchemes = new Dictionary<string, IOpenApiSecurityScheme>
                    {
                        [BearerScheme] = new OpenApiSecurityScheme
                        {
                            Type = SecuritySchemeType.Http,
                            Scheme = "bearer",
                            Description = "An API key of this cluster: a producer key (ingest, query, read) or an admin key (also drain).",
                        },
                    };
                }

                return Task.CompletedTask;
            });

            // Each route that takes a key says so; probes, metrics and the dashboard page do not.
            o.AddOperationTransformer((operation, context, _) =>
            {
                if (credentials.KeysRequired && context.Description.ActionDescriptor.EndpointMetadata.OfType<IAuthorizeData>().Any())
                {
                    operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [] }];
                }

                return Task.CompletedTask;
            });
        });
    }

    /// <summary>Adds the middleware and maps the routes.</summary>
    public static void Map(WebApplication app, IEngineHost host)
    {
        app.Use(TimeRequestAsync);
        app.UseRestProblems();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapOpenApi("/openapi.json");
        var activity = new ActivitySampler(host, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(15));
        app.Lifetime.ApplicationStopping.Register(() => _ = activity.DisposeAsync().AsTask());
        RestApi.Map(app, host, activity);
        Dashboard.Map(app);
        // The exporter's own branch, mapped as a route so that /openapi.json lists it like every other route.
        var scrape = ((IApplicationBuilder)app).New()
            .UseOpenTelemetryPrometheusScrapingEndpoint(meterProvider: null, predicate: _ => true, path: null, configureBranchedPipeline: null, optionsName: null)
            .Build();
        app.MapGet("/metrics", (Func<HttpContext, Task>)(context => scrape(context)))
            .Produces(StatusCodes.Status200OK, contentType: "text/plain")
            .WithName("Metrics").WithSummary("The LshCluster meter in the Prometheus text format");
    }

    // Every request, REST and gRPC alike, by API and route (a bounded set: route patterns and gRPC methods) and status.
    private static async Task TimeRequestAsync(HttpContext context, RequestDelegate next)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            var grpc = context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true;
            var route = context.GetEndpoint() is RouteEndpoint endpoint ? endpoint.RoutePattern.RawText ?? "?" : "unmatched";
            LshClusterMetrics.RequestDuration.Record(
                LshClusterMetrics.SecondsSince(started),
                new KeyValuePair<string, object?>("api", grpc ? "grpc" : "rest"),
                new KeyValuePair<string, object?>("route", route),
                new KeyValuePair<string, object?>("status", context.Response.StatusCode));
        }
    }
}
