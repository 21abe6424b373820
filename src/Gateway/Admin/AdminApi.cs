using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Portico.Gateway.Caching;
using Portico.Gateway.Configuration;
using Portico.Gateway.Jobs;
using Portico.Gateway.Resilience;
using Portico.Gateway.Routing;
using Portico.Gateway.Security;
using Portico.Gateway.Telemetry;
using Yarp.ReverseProxy;

namespace Portico.Gateway.Admin;

internal static class AdminJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
}

/// <summary>
/// The admin API under <c>{PathPrefix}/api</c> (<c>/portico/api</c>): what the gateway knows right now, and the
/// operator's levers. Admin role only, and loopback callers only unless <c>Portico:Admin:AllowRemote</c> (see
/// <see cref="AdminAccess"/>). Every write is an audit line naming the admin (<see cref="AdminAudit"/>).
/// </summary>
internal static partial class AdminApi
{
    /// <summary>A proposed gateway file larger than this is refused before it is read.</summary>
    public const int MaxConfigBytes = 1024 * 1024;

    public static IEndpointRouteBuilder MapPorticoAdminApi(this IEndpointRouteBuilder endpoints)
    {
        var options = endpoints.ServiceProvider.GetRequiredService<IOptions<AdminOptions>>().Value;
        var api = endpoints.MapGroup(options.PathPrefix + "/api")
            .RequireAuthorization(GatewayAuthorizationPolicies.Admin)
            .WithMetadata(ExcludeFromLiveRequests.Instance)
            .WithGroupName("portico-admin");

        api.MapGet("/overview", Overview);
        api.MapGet("/routes", (AdminViews views) => TypedResults.Ok(views.Routes()));
        api.MapGet("/clusters", (AdminViews views) => TypedResults.Ok(views.Clusters()));
        api.MapPost("/clusters/{clusterId}/destinations/{destinationId}/drain", Drain);
        api.MapPost("/clusters/{clusterId}/destinations/{destinationId}/undrain", Undrain);
        api.MapPost("/clusters/{clusterId}/destinations/{destinationId}/reset-breaker", ResetBreakerAsync);
        api.MapGet("/cache", (AdminViews views) => TypedResults.Ok(views.CachePolicies()));
        api.MapDelete("/cache", PurgeCacheAsync);
        api.MapGet("/jobs", JobsAsync);
        api.MapGet("/config", GetConfig);
        api.MapPost("/config/validate", ValidateConfigAsync);
        api.MapPut("/config", PutConfigAsync);
        api.MapGet("/config/versions", (GatewayConfigProvider config) => TypedResults.Ok(config.Versions));
        api.MapGet("/config/versions/{version}", GetVersion);
        api.MapPost("/config/versions/{version}/rollback", RollbackAsync);
        api.MapGet("/live", (AdminLiveFeed feed, HttpContext context) =>
        {
            context.Response.Headers.CacheControl = "no-store";
            return TypedResults.ServerSentEvents(feed.WatchAsync(context.RequestAborted));
        });
        return endpoints;
    }

    private static IResult Overview(AdminViews views, GatewayConfigProvider config, IOptions<AdminOptions> options)
    {
        var clusters = views.Clusters();
        var destinations = clusters.SelectMany(c => c.Destinations).ToList();
        return TypedResults.Ok(new
        {
            configVersion = config.CurrentVersion,
            routes = views.Routes().Count,
            clusters = clusters.Count,
            destinations = destinations.Count,
            destinationsByStatus = destinations.GroupBy(d => d.Status).ToDictionary(g => g.Key, g => g.Count()),
            options.Value.TraceUrl,
        });
    }

    private static IResult Drain(string clusterId, string destinationId, DestinationDrains drains, IProxyStateLookup proxy,
        TimeProvider time, ClaimsPrincipal user, ILogger<AdminAudit> audit)
    {
        if (!drains.Drain(clusterId, destinationId, time.GetUtcNow()))
        {
            return UnknownDestination(clusterId, destinationId);
        }
        AdminAudit.Write(audit, user, "drain", $"{clusterId}/{destinationId}");
        var left = proxy.TryGetCluster(clusterId, out var cluster) ? cluster.DestinationsState.AvailableDestinations.Count : 0;
        return TypedResults.Ok(new { clusterId, destinationId, drained = true, availableDestinations = left,
            warning = left == 0 ? $"Cluster '{clusterId}' has no available destination left: its requests get 503 until one is undrained or healthy." : null });
    }

    private static IResult Undrain(string clusterId, string destinationId, DestinationDrains drains, ClaimsPrincipal user, ILogger<AdminAudit> audit)
    {
        if (!drains.Undrain(clusterId, destinationId))
        {
            return UnknownDestination(clusterId, destinationId);
        }
        AdminAudit.Write(audit, user, "undrain", $"{clusterId}/{destinationId}");
        return TypedResults.Ok(new { clusterId, destinationId, drained = false });
    }

    private static async Task<IResult> ResetBreakerAsync(string clusterId, string destinationId, ResilienceStates resilience, IProxyStateLookup proxy,
        ClaimsPrincipal user, ILogger<AdminAudit> audit)
    {
        if (!proxy.TryGetCluster(clusterId, out var cluster)
            || !cluster.Destinations.Keys.Any(id => id == destinationId || id.StartsWith(destinationId + "[", StringComparison.Ordinal)))
        {
            return UnknownDestination(clusterId, destinationId);
        }
        var reset = await resilience.ResetBreakerAsync(clusterId, destinationId);
        AdminAudit.Write(audit, user, "reset-breaker", $"{clusterId}/{destinationId}");
        return TypedResults.Ok(new { clusterId, destinationId, breakersReset = reset });
    }

    /// <summary><c>DELETE …/cache?route=…</c>, <c>?prefix=/api/products</c> or <c>?tag=…</c>: clears both tiers on every instance.</summary>
    private static async Task<IResult> PurgeCacheAsync(string? route, string? prefix, string? tag, CacheTiers cache, ClaimsPrincipal user, ILogger<AdminAudit> audit)
    {
        var given = new[] { route, prefix, tag }.Count(v => !string.IsNullOrWhiteSpace(v));
        if (given != 1)
        {
            return Problem(StatusCodes.Status400BadRequest, "Bad purge", "Give exactly one of 'route', 'prefix' and 'tag'.");
        }
        if (!string.IsNullOrWhiteSpace(prefix) && !prefix.StartsWith('/'))
        {
            return Problem(StatusCodes.Status400BadRequest, "Bad purge", $"'prefix' must be a path starting with '/', not '{prefix}'.");
        }
        var removed = !string.IsNullOrWhiteSpace(prefix)
            ? await cache.PurgePrefixAsync(prefix)
            : await cache.PurgeAsync(string.IsNullOrWhiteSpace(route) ? null : route, string.IsNullOrWhiteSpace(tag) ? null : tag);
        AdminAudit.Write(audit, user, "purge", route is { Length: > 0 } ? "route " + route : prefix is { Length: > 0 } ? "prefix " + prefix : "tag " + tag);
        return TypedResults.Ok(new { route, prefix, tag, removedHere = removed });
    }

    private static async Task<IResult> JobsAsync(HttpContext context, GatewayConfigProvider config)
    {
        var routes = config.GetSection<JobsSettings>().Routes;
        var store = context.RequestServices.GetService<JobStore>(); // absent while jobs are off
        JobCounts? counts = null;
        string? unavailable = null;
        if (store is not null)
        {
            try
            {
                counts = await store.CountsAsync();
            }
            catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
            {
                unavailable = "The store did not answer: " + ex.Message;
            }
        }
        return TypedResults.Ok(new
        {
            enabled = store is not null,
            unavailable,
            live = counts?.Live,
            liveRead = counts?.Read,
            deadLettered = counts?.DeadLettered,
            routes = routes.Select(r => new
            {
                r.Name, r.Method, r.Path, r.Queue, r.InQueue, r.OutQueue, r.MaxAttempts,
                live = counts?.LiveByJob.GetValueOrDefault(r.Name) ?? [],
            }),
        });
    }

    private static IResult GetConfig(GatewayConfigProvider config, HttpContext context)
    {
        var version = config.CurrentVersion;
        context.Response.Headers.ETag = $"\"{version}\"";
        return TypedResults.Ok(new { version, file = config.Path, text = GatewayFileMasking.MaskSecrets(config.CurrentText) });
    }

    private static IResult GetVersion(string version, GatewayConfigProvider config) =>
        config.TextOf(version) is { } text
            ? TypedResults.Ok(new { version, text = GatewayFileMasking.MaskSecrets(text) })
            : Problem(StatusCodes.Status404NotFound, "Unknown version", $"Version '{version}' is not among the last {GatewayConfigHistory.Capacity} versions.");

    /// <summary>Every error of a proposed file (the body, as the file would be written); nothing is applied.</summary>
    private static async Task<IResult> ValidateConfigAsync(HttpRequest request, GatewayConfigProvider config)
    {
        var (text, problem) = await ReadProposalAsync(request, config);
        if (problem is not null)
        {
            return problem;
        }
        var errors = await config.ValidateAsync(text!);
        return TypedResults.Ok(new { valid = errors.Count == 0, errors });
    }

    /// <summary>Applies a valid file (the body) and returns its version; <c>If-Match</c> with the version edited guards against a lost update.</summary>
    private static async Task<IResult> PutConfigAsync(HttpRequest request, GatewayConfigProvider config, ClaimsPrincipal user, ILogger<AdminAudit> audit)
    {
        var (text, problem) = await ReadProposalAsync(request, config);
        if (problem is not null)
        {
            return problem;
        }
        var expected = request.Headers.IfMatch.Count > 0 ? request.Headers.IfMatch.ToString().Trim().Trim('"') : null;
        return Applied(await config.ApplyAsync(text!, AdminAudit.UserId(user), expected), request.HttpContext, audit, user, "apply-config");
    }

    private static async Task<IResult> RollbackAsync(string version, HttpContext context, GatewayConfigProvider config, ClaimsPrincipal user, ILogger<AdminAudit> audit)
    {
        if (config.TextOf(version) is not { } text)
        {
            return Problem(StatusCodes.Status404NotFound, "Unknown version", $"Version '{version}' is not among the last {GatewayConfigHistory.Capacity} versions.");
        }
        return Applied(await config.ApplyAsync(text, AdminAudit.UserId(user)), context, audit, user, "rollback-config");
    }

    private static IResult Applied(GatewayConfigApplyResult result, HttpContext context, ILogger<AdminAudit> audit, ClaimsPrincipal user, string action)
    {
        if (result.Applied is { } applied)
        {
            AdminAudit.Write(audit, user, action, $"{result.VersionBefore} → {applied.Version}");
            context.Response.Headers.ETag = $"\"{applied.Version}\"";
            return TypedResults.Ok(applied);
        }
        if (result.Errors.Count == 0)
        {
            return Problem(StatusCodes.Status412PreconditionFailed, "Version changed",
                $"The gateway file is at version {result.VersionBefore} now, not the one edited; load it again and redo the edit.");
        }
        return TypedResults.Problem(new Microsoft.AspNetCore.Mvc.ProblemDetails
        {
            Status = StatusCodes.Status422UnprocessableEntity,
            Title = "Invalid gateway file",
            Detail = $"The file has {result.Errors.Count} error(s); nothing was applied and version {result.VersionBefore} keeps serving.",
            Extensions = { ["errors"] = result.Errors },
        });
    }

    /// <summary>The proposed file from the body, with masked secrets put back from the version in force.</summary>
    private static async Task<(string? Text, IResult? Problem)> ReadProposalAsync(HttpRequest request, GatewayConfigProvider config)
    {
        if (request.ContentLength > MaxConfigBytes)
        {
            return (null, Problem(StatusCodes.Status413PayloadTooLarge, "File too large", $"A gateway file is at most {MaxConfigBytes} bytes."));
        }
        var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
        {
            if (buffer.Length + read > MaxConfigBytes)
            {
                return (null, Problem(StatusCodes.Status413PayloadTooLarge, "File too large", $"A gateway file is at most {MaxConfigBytes} bytes."));
            }
            buffer.Write(chunk, 0, read);
        }
        if (buffer.Length == 0)
        {
            return (null, Problem(StatusCodes.Status400BadRequest, "No file", "The body must be the whole gateway file (JSON)."));
        }
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        }
        catch (DecoderFallbackException)
        {
            return (null, Problem(StatusCodes.Status400BadRequest, "Not UTF-8", "The gateway file must be UTF-8 text."));
        }
        return (GatewayFileMasking.Unmask(text, config.CurrentText), null);
    }

    private static IResult UnknownDestination(string clusterId, string destinationId) =>
        Problem(StatusCodes.Status404NotFound, "Unknown destination", $"Cluster '{clusterId}' has no destination '{destinationId}'.");

    private static ProblemHttpResult Problem(int status, string title, string detail) => TypedResults.Problem(detail, statusCode: status, title: title);
}
