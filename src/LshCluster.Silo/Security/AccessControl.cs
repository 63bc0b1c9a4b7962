using System.Security.Claims;
using System.Text.Encodings.Web;
using LshCluster.Silo.Diagnostics;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LshCluster.Silo.Security;

/// <summary>
/// Who may call what, on ASP.NET Core's authentication and authorization: every route names a policy
/// (<see cref="Producer"/> or <see cref="Admin"/>); a caller presents
/// <c>Authorization: Bearer SECRET</c> (HTTP header or gRPC metadata). Refusals are 401/403 problem details on REST
/// and <c>UNAUTHENTICATED</c>/<c>PERMISSION_DENIED</c> on gRPC, and are logged with the key's name, never its secret.
/// </summary>
public static class AccessControl
{
    /// <summary>Ingest, query and read the cluster's state: producer and admin keys.</summary>
    public const string Producer = "producer";

    /// <summary>Change the cluster (drain): admin keys only.</summary>
    public const string Admin = "admin";

    private const string SchemeName = "LshClusterKey";

    private const string GrpcContentType = "application/grpc";

    /// <summary>Registers the scheme, the two policies and the refusal writer for <paramref name="credentials"/>.</summary>
    public static void AddAccessControl(this IServiceCollection services, Credentials credentials)
    {
        services.AddSingleton(credentials);

        // Authentication brings ASP.NET's data protection along; nothing here encrypts cookies or tokens, so its keys
        // stay in memory rather than in a key ring on disk (and it does not warn about storing them unencrypted).
        services.AddDataProtection().UseEphemeralDataProtectionProvider();
        services.AddAuthentication(SchemeName).AddScheme<AuthenticationSchemeOptions, BearerSecretHandler>(SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(Producer, Policy(credentials.KeysRequired, Role.Producer, Role.Admin))
            .AddPolicy(Admin, Policy(credentials.KeysRequired, Role.Admin));
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, RefusalWriter>();
    }

    // Without keys the policy lets everyone in: an open server, as the log says at start.
    private static AuthorizationPolicy Policy(bool required, params Role[] roles) => required
        ? new AuthorizationPolicyBuilder(SchemeName).RequireAuthenticatedUser().RequireRole(roles.Select(r => r.ToString())).Build()
        : new AuthorizationPolicyBuilder().RequireAssertion(_ => true).Build();

    /// <summary>Says, at start, what a server accepts; an open server is worth a warning where it listens beyond loopback.</summary>
    /// <param name="log">Where to say it.</param>
    /// <param name="credentials">What the server accepts.</param>
    /// <param name="plainTextBeyondLoopback">Whether it listens without TLS on an address other machines reach.</param>
    public static void LogPolicy(ILogger log, Credentials credentials, bool plainTextBeyondLoopback)
    {
        if (credentials.KeysRequired && plainTextBeyondLoopback)
        {
            log.LogWarning("API keys cross the network in clear text here: serve TLS (--tls-cert, --tls-key) where the network is not yours alone");
        }

        if (credentials.KeysRequired)
        {
            log.LogInformation("API keys required: {Count} configured ({Names})", credentials.Keys.Count, string.Join(", ", credentials.Keys.Select(k => $"{k.Name}: {k.Role.ToString().ToLowerInvariant()}")));
        }
        else
        {
            log.LogWarning("no API keys configured ({Variable}): every caller may ingest, query and drain", Credentials.KeysVariable);
        }
    }

    /// <summary>Reads <c>Authorization: Bearer SECRET</c> and finds whose it is.</summary>
    private sealed class BearerSecretHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, UrlEncoder encoder, Credentials credentials)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, NullLoggerFactory.Instance, encoder) // RefusalWriter logs each refusal once
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            var header = Request.Headers.Authorization.ToString();
            if (header.Length == 0)
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            {
                return Task.FromResult(AuthenticateResult.Fail("authorization: expected 'Bearer KEY'"));
            }

            if (credentials.Identify(header["Bearer ".Length..].Trim()) is not { } caller)
            {
                return Task.FromResult(AuthenticateResult.Fail("authorization: the key is not one of this cluster's keys"));
            }

            var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, caller.Name), new Claim(ClaimTypes.Role, caller.Role.ToString())], SchemeName);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
        }
    }

    /// <summary>Writes a refusal in the caller's protocol and logs it without the secret.</summary>
    private sealed class RefusalWriter(ILogger<RefusalWriter> log) : IAuthorizationMiddlewareResultHandler
    {
        private readonly LogBudget _budget = new(burst: 20, TimeSpan.FromSeconds(10));

        public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
        {
            if (authorizeResult.Succeeded)
            {
                await next(context).ConfigureAwait(false);
                return;
            }

            var grpc = context.Request.ContentType?.StartsWith(GrpcContentType, StringComparison.OrdinalIgnoreCase) == true;
            var route = $"{context.Request.Method} {context.Request.Path}";
            string reason;
            bool forbidden;
            if (authorizeResult.Forbidden && context.User.Identity is { IsAuthenticated: true, Name: var name })
            {
                var role = context.User.FindFirst(ClaimTypes.Role)?.Value.ToLowerInvariant();
                reason = $"authorization: key '{name}' has role {role}; {(grpc ? context.Request.Path.ToString() : route)} needs {Needs(context)}";
                forbidden = true;
            }
            else
            {
                var failure = (await context.AuthenticateAsync(SchemeName).ConfigureAwait(false)).Failure?.Message;
                reason = failure ?? "authorization: this cluster requires an API key: send 'Authorization: Bearer KEY'";
                forbidden = false;
            }

            if (_budget.TryTake(DateTimeOffset.UtcNow, out var leftOut))
            {
                log.LogWarning("refused {Route} from {Peer}: {Reason}{LeftOut}", route, context.Connection.RemoteIpAddress, reason, leftOut > 0 ? $" ({leftOut} more refusals not logged before this one; all are counted in lshcluster_access_refusals_total)" : string.Empty);
            }

            LshClusterMetrics.AccessRefusals.Add(
                1,
                new KeyValuePair<string, object?>("api", grpc ? "grpc" : "rest"),
                new KeyValuePair<string, object?>("reason", forbidden ? "forbidden" : "unauthenticated"));
            if (grpc)
            {
                RefuseGrpc(context.Response, forbidden ? Grpc.Core.StatusCode.PermissionDenied : Grpc.Core.StatusCode.Unauthenticated, reason);
                return;
            }

            if (!forbidden)
            {
                context.Response.Headers.WWWAuthenticate = "Bearer realm=\"lshcluster\"";
            }

            await TypedResults.Problem(
                reason,
                statusCode: forbidden ? StatusCodes.Status403Forbidden : StatusCodes.Status401Unauthorized,
                title: forbidden ? "Forbidden" : "Unauthenticated").ExecuteAsync(context).ConfigureAwait(false);
        }

        // Grpc.AspNetCore answers a refusal by the authorization middleware with a bare HTTP 401/403, which clients
        // report as "Bad gRPC response" without the reason; a trailers-only response carries the status and the reason.
        private static void RefuseGrpc(HttpResponse response, Grpc.Core.StatusCode status, string reason)
        {
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = GrpcContentType;
            response.Headers["grpc-status"] = ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture);
            response.Headers["grpc-message"] = Uri.EscapeDataString(reason); // grpc-message is percent-encoded UTF-8
        }

        // The most a route's policies ask for (a /v1 route may add admin to the group's producer), in the caller's terms.
        private static string Needs(HttpContext context)
        {
            var policies = context.GetEndpoint()?.Metadata.GetOrderedMetadata<IAuthorizeData>().Select(a => a.Policy).ToList() ?? [];
            return policies.Contains(Admin) ? "an admin key"
                : "a producer or admin key";
        }
    }
}

/// <summary>
/// At most <c>burst</c> log lines per window: a producer retrying with a revoked key, or someone probing, must not
/// flood the log (the metric counts every refusal); the next line written says how many were left out.
/// </summary>
internal sealed class LogBudget(int burst, TimeSpan window)
{
    private readonly object _gate = new();
    private DateTimeOffset _windowStart = DateTimeOffset.MinValue;
    private int _taken;
    private int _leftOut;

    /// <summary>Whether to log now; <paramref name="leftOut"/>: lines not logged since the last one that was.</summary>
    public bool TryTake(DateTimeOffset now, out int leftOut)
    {
        lock (_gate)
        {
            if (now - _windowStart >= window)
            {
                _windowStart = now;
                _taken = 0;
            }

            if (_taken >= burst)
            {
                _leftOut++;
                leftOut = 0;
                return false;
            }

            _taken++;
            leftOut = _leftOut;
            _leftOut = 0;
            return true;
        }
    }
}
