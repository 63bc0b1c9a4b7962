using System.Text.Json;
using LshCluster.Silo.Engine;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace LshCluster.Silo.Http;

/// <summary>
/// Failures as problem details (RFC 9457): 400 names the field at fault under <c>errors</c>, 404 says what was not
/// found, 429/503/504 say whether and when to retry. The same domain errors map to gRPC statuses in GrpcServices, with
/// the same messages (<see cref="FailureMessages"/>).
/// </summary>
public static class ProblemMapping
{
    /// <summary>404 with the reason.</summary>
    public static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound, title: "Not found");

    /// <summary>410: what was asked for existed once and is gone for good (a feed cursor older than the feed keeps).</summary>
    public static ProblemHttpResult Gone(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status410Gone, title: "Gone");

    /// <summary>503 with <c>Retry-After</c>: nothing was changed, and the same request may succeed in a moment.</summary>
    public static IResult Unavailable(string detail) => Retry(StatusCodes.Status503ServiceUnavailable, "Unavailable", detail);

    /// <summary>Turns exceptions from the REST routes into problem details; other paths are left alone.</summary>
    public static void UseRestProblems(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (Exception e) when (!context.Response.HasStarted && ToResult(e) is { } result)
        {
            if (e is OverloadedException)
            {
                Diagnostics.LshClusterMetrics.OverloadRejections.Add(1, new KeyValuePair<string, object?>("api", "rest"));
            }

            await result.ExecuteAsync(context).ConfigureAwait(false);
        }
    });

    /// <summary>The problem for a failure, or null for a fault of our own (left to the server's 500).</summary>
    public static IResult? ToResult(Exception e) => e switch
    {
        BadHttpRequestException { InnerException: JsonException json } => Invalid(JsonField(json.Path), $"the body is not the JSON this route takes: {json.Message}"),
        BadHttpRequestException bad => Invalid("body", bad.Message),
        ArgumentException a => Invalid(a.ParamName ?? "request", FailureMessages.Of(a)),
        OverloadedException => Retry(StatusCodes.Status429TooManyRequests, "Overloaded", e.Message),
        _ when FailureMessages.Unavailable(e, "request") is { } why => Unavailable(why),
        _ => null,
    };

    private static IResult Invalid(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, detail: message, title: "Invalid request");

    private static IResult Retry(int status, string title, string detail) =>
        new RetryAfter(TypedResults.Problem(detail, statusCode: status, title: title));

    // "$.vectors[2].values" → "vectors[2].values"
    private static string JsonField(string? path) =>
        string.IsNullOrEmpty(path) || path == "$" ? "body" : path.TrimStart('$', '.');

    private sealed class RetryAfter(IResult inner) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = "1";
            return inner.ExecuteAsync(httpContext);
        }
    }
}
