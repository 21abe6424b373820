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
using Portico.Gateway.Transcoding;
using Portico.Messaging.Transport;
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

    /// <summary>The admin API's OpenAPI document: its name (the group of every endpoint below) and where it is served.</summary>
    public const string DocumentName = "portico-admin";

    public const string DocumentPath = "/openapi.json";

    /// <summary>How long the jobs view waits for the broker's queue depths before answering without them.</summary>
    private static readonly TimeSpan QueueDepthTimeout = TimeSpan.FromSeconds(3);

    public static IEndpointRouteBuilder MapPorticoAdminApi(this IEndpointRouteBuilder endpoints)
    {
        var options = endpoints.ServiceProvider.GetRequiredService<IOptions<AdminOptions>>().Value;
        var api = endpoints.MapGroup(options.PathPrefix + "/api")
            .RequireAuthorization(GatewayAuthorizationPolicies.Admin)
            .WithMetadata(ExcludeFromLiveRequests.Instance)
            .WithGroupName(DocumentName)
            .WithTags("Admin");

        api.MapGet("/overview", Overview).WithSummary("Counts of routes, clusters and destinations by status, and the gateway file version in force.");
        api.MapGet("/routes", (AdminViews views) => TypedResults.Ok(views.Routes())).WithSummary("Every route (proxied and composed) with its policies.");
        api.MapGet("/clusters", (AdminViews views) => TypedResults.Ok(views.Clusters()))
            .WithSummary("Every cluster's destinations with active and passive health, breakers, drain and requests in flight.");
        api.MapPost("/clusters/{clusterId}/destinations/{destinationId}/drain", DrainAsync)
            .WithSummary("Drains a destination: no new requests go to it, those in flight finish; on every instance when a store is shared.");
        api.MapPost("/clusters/{clusterId}/destinations/{destinationId}/undrain", UndrainAsync).WithSummary("Puts a drained destination back into load balancing.");
        api.MapPost("/clusters/{clusterId}/destinations/{destinationId}/reset-breaker", ResetBreakerAsync).WithSummary("Closes a destination's circuit breakers.");
        api.MapGet("/cache", (AdminViews views) => TypedResults.Ok(views.CachePolicies())).WithSummary("Each cache policy with its hit ratio, entries and bytes.");
        api.MapDelete("/cache", PurgeCacheAsync).WithSummary("Purges cached answers by route, path prefix or tag, on every instance.");
        api.MapGet("/transcoding", (GatewayConfigProvider config, GrpcDescriptors descriptors) =>
                TypedResults.Ok(AdminTranscoding.Services(config.GetSection<TranscodingSettings>(), descriptors.Services)))
            .WithSummary("Each gRPC service: where its descriptors came from and when, and each method with its HTTP routes.");
        api.MapGet("/jobs", JobsAsync).WithSummary("Job routes with live jobs by state, and their queues' depths at the broker.");
        api.MapGet("/config", GetConfig).WithSummary("The gateway file in force, secrets masked; its version is the ETag.");
        api.MapPost("/config/validate", ValidateConfigAsync).Accepts<JsonElement>("application/json")
            .WithSummary("Checks a proposed gateway file (the body) and lists every error; nothing is applied.");
        api.MapPut("/config", PutConfigAsync).Accepts<JsonElement>("application/json")
            .WithSummary("Applies a valid gateway file (the body) and writes it where the gateway reads it; If-Match guards a lost update.");
        api.MapGet("/config/versions", (GatewayConfigProvider config) => TypedResults.Ok(config.Versions)).WithSummary("The last versions of the gateway file, newest first.");
        api.MapGet("/config/versions/{version}", GetVersion).WithSummary("One kept version of the gateway file, secrets masked.");
        api.MapPost("/config/versions/{version}/rollback", RollbackAsync).WithSummary("Applies a kept version again.");
        api.MapGet("/live", (AdminLiveFeed feed, HttpContext context) =>
        {
            context.Response.Headers.CacheControl = "no-store";
            return TypedResults.ServerSentEvents(feed.WatchAsync(context.RequestAborted));
        }).WithSummary("Server-sent events: per-second figures per route, sampled requests, destination changes.");
        api.MapGet(DocumentPath, AdminOpenApi.GetAsync).ExcludeFromDescription();
        return endpoints;
    }

    private static Ok<OverviewView> Overview(AdminViews views, GatewayConfigProvider config, IOptions<AdminOptions> options, DestinationDrains drains)
    {
        var clusters = views.Clusters();
        var destinations = clusters.SelectMany(c => c.Destinations).ToList();
        return TypedResults.Ok(new OverviewView(config.CurrentVersion, views.Routes().Count, clusters.Count, destinations.Count,
            destinations.GroupBy(d => d.Status).ToDictionary(g => g.Key, g => g.Count()), options.Value.TraceUrl, Scope(drains)));
    }

    private static async Task<Results<Ok<DrainView>, ProblemHttpResult>> DrainAsync(string clusterId, string destinationId, DestinationDrains drains,
        IProxyStateLookup proxy, TimeProvider time, ClaimsPrincipal user, ILogger<AdminAudit> audit)
    {
        var known = false;
        if (await ChangeDrainAsync(async () => known = await drains.DrainAsync(clusterId, destinationId, time.GetUtcNow())) is { } failed)
        {
            return failed;
        }
        if (!known)
        {
            return UnknownDestination(clusterId, destinationId);
        }
        AdminAudit.Write(audit, user, "drain", $"{clusterId}/{destinationId}");
        var left = proxy.TryGetCluster(clusterId, out var cluster) ? cluster.DestinationsState.AvailableDestinations.Count : 0;
        return TypedResults.Ok(new DrainView(clusterId, destinationId, true, Scope(drains), left,
            left == 0 ? $"Cluster '{clusterId}' has no available destination left: its requests get 503 until one is undrained or healthy." : null));
    }

    private static async Task<Results<Ok<DrainView>, ProblemHttpResult>> UndrainAsync(string clusterId, string destinationId, DestinationDrains drains,
        IProxyStateLookup proxy, ClaimsPrincipal user, ILogger<AdminAudit> audit)
    {
        var known = false;
        if (await ChangeDrainAsync(async () => known = await drains.UndrainAsync(clusterId, destinationId)) is { } failed)
        {
            return failed;
        }
        if (!known)
        {
            return UnknownDestination(clusterId, destinationId);
        }
        AdminAudit.Write(audit, user, "undrain", $"{clusterId}/{destinationId}");
        var left = proxy.TryGetCluster(clusterId, out var cluster) ? cluster.DestinationsState.AvailableDestinations.Count : 0;
        return TypedResults.Ok(new DrainView(clusterId, destinationId, false, Scope(drains), left, null));
    }

    private static string Scope(DestinationDrains drains) => drains.IsShared ? "all-instances" : "instance";

    /// <summary>A drain the shared store did not take is not in force here (nor, unless announced, elsewhere): 503, to be tried again.</summary>
    private static async Task<ProblemHttpResult?> ChangeDrainAsync(Func<Task> change)
    {
        try
        {
            await change();
            return null;
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
        {
            return Problem(StatusCodes.Status503ServiceUnavailable, "Store unavailable",
                "The shared store did not answer, so the change is not in force on this instance (a drain is kept in the store for every instance); try again. " + ex.Message);
        }
    }

    private static async Task<Results<Ok<BreakerResetView>, ProblemHttpResult>> ResetBreakerAsync(string clusterId, string destinationId,
        ResilienceStates resilience, IProxyStateLookup proxy, ClaimsPrincipal user, ILogger<AdminAudit> audit)
    {
        if (!proxy.TryGetCluster(clusterId, out var cluster)
            || !cluster.Destinations.Keys.Any(id => id == destinationId || id.StartsWith(destinationId + "[", StringComparison.Ordinal)))
        {
            return UnknownDestination(clusterId, destinationId);
        }
        var reset = await resilience.ResetBreakerAsync(clusterId, destinationId);
        AdminAudit.Write(audit, user, "reset-breaker", $"{clusterId}/{destinationId}");
        return TypedResults.Ok(new BreakerResetView(clusterId, destinationId, reset));
    }

    /// <summary><c>DELETE …/cache?route=…</c>, <c>?prefix=/api/products</c> or <c>?tag=…</c>: clears both tiers on every instance.</summary>
    private static async Task<Results<Ok<PurgeView>, ProblemHttpResult>> PurgeCacheAsync(string? route, string? prefix, string? tag, CacheTiers cache,
        ClaimsPrincipal user, ILogger<AdminAudit> audit)
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
        return TypedResults.Ok(new PurgeView(route, prefix, tag, removed));
    }

    private static async Task<Ok<JobsView>> JobsAsync(HttpContext context, GatewayConfigProvider config, TimeProvider time)
    {
        var routes = config.GetSection<JobsSettings>().Routes;
        var store = context.RequestServices.GetService<JobStore>(); // absent while jobs are off
        JobCounts? counts = null;
        string? unavailable = null;
        IMessageTransport? transport = null;
        IReadOnlyDictionary<string, QueueDepth?> depths = new Dictionary<string, QueueDepth?>();
        string? depthsUnavailable = null;
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
            transport = context.RequestServices.GetRequiredService<IMessageTransport>();
            (depths, depthsUnavailable) = await QueueDepthsAsync(transport, routes.SelectMany(r => new[] { r.InQueue, r.OutQueue }), time, context.RequestAborted);
        }
        return TypedResults.Ok(new JobsView(store is not null, unavailable, transport?.Name, depthsUnavailable, counts?.Live, counts?.Read, counts?.DeadLettered,
            [.. routes.Select(r => new JobRouteView(r.Name, r.Method, r.Path, r.Queue, r.InQueue, r.OutQueue, r.MaxAttempts,
                counts?.LiveByJob.GetValueOrDefault(r.Name) ?? [], depths.GetValueOrDefault(r.InQueue), depths.GetValueOrDefault(r.OutQueue)))]));
    }

    /// <summary>Each queue's depth, asked one after another within <see cref="QueueDepthTimeout"/>; a broker that fails or lags is named, not waited for.</summary>
    private static async Task<(IReadOnlyDictionary<string, QueueDepth?> Depths, string? Unavailable)> QueueDepthsAsync(IMessageTransport transport,
        IEnumerable<string> queues, TimeProvider time, CancellationToken cancellationToken)
    {
        var depths = new Dictionary<string, QueueDepth?>(StringComparer.Ordinal);
        using var timeout = new CancellationTokenSource(QueueDepthTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        try
        {
            foreach (var queue in queues.Distinct(StringComparer.Ordinal))
            {
                depths[queue] = await transport.GetQueueDepthAsync(queue, linked.Token).WaitAsync(linked.Token);
            }
            return (depths, null);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            return (depths, $"The broker ({transport.Name}) did not answer: " + (timeout.IsCancellationRequested ? $"no answer within {QueueDepthTimeout.TotalSeconds:0} s." : ex.Message));
        }
    }

    private static Ok<ConfigView> GetConfig(GatewayConfigProvider config, HttpContext context)
    {
        var version = config.CurrentVersion;
        context.Response.Headers.ETag = $"\"{version}\"";
        return TypedResults.Ok(new ConfigView(version, config.Path, GatewayFileMasking.MaskSecrets(config.CurrentText)));
    }

    private static Results<Ok<ConfigVersionView>, ProblemHttpResult> GetVersion(string version, GatewayConfigProvider config) =>
        config.TextOf(version) is { } text
            ? TypedResults.Ok(new ConfigVersionView(version, GatewayFileMasking.MaskSecrets(text)))
            : Problem(StatusCodes.Status404NotFound, "Unknown version", $"Version '{version}' is not among the last {GatewayConfigHistory.Capacity} versions.");

    /// <summary>Every error of a proposed file (the body, as the file would be written); nothing is applied.</summary>
    private static async Task<Results<Ok<ConfigValidationView>, ProblemHttpResult>> ValidateConfigAsync(HttpRequest request, GatewayConfigProvider config)
    {
        var (text, problem) = await ReadProposalAsync(request, config);
        if (problem is not null)
        {
            return problem;
        }
        var errors = await config.ValidateAsync(text!);
        return TypedResults.Ok(new ConfigValidationView(errors.Count == 0, errors));
    }

    /// <summary>Applies a valid file (the body) and returns its version; <c>If-Match</c> with the version edited guards against a lost update.</summary>
    private static async Task<Results<Ok<GatewayConfigVersion>, ProblemHttpResult>> PutConfigAsync(HttpRequest request, GatewayConfigProvider config, ClaimsPrincipal user, ILogger<AdminAudit> audit)
    {
        var (text, problem) = await ReadProposalAsync(request, config);
        if (problem is not null)
        {
            return problem;
        }
        var expected = request.Headers.IfMatch.Count > 0 ? request.Headers.IfMatch.ToString().Trim().Trim('"') : null;
        return Applied(await config.ApplyAsync(text!, AdminAudit.UserId(user), expected), request.HttpContext, audit, user, "apply-config");
    }

    private static async Task<Results<Ok<GatewayConfigVersion>, ProblemHttpResult>> RollbackAsync(string version, HttpContext context, GatewayConfigProvider config, ClaimsPrincipal user, ILogger<AdminAudit> audit)
    {
        if (config.TextOf(version) is not { } text)
        {
            return Problem(StatusCodes.Status404NotFound, "Unknown version", $"Version '{version}' is not among the last {GatewayConfigHistory.Capacity} versions.");
        }
        return Applied(await config.ApplyAsync(text, AdminAudit.UserId(user)), context, audit, user, "rollback-config");
    }

    private static Results<Ok<GatewayConfigVersion>, ProblemHttpResult> Applied(GatewayConfigApplyResult result, HttpContext context, ILogger<AdminAudit> audit, ClaimsPrincipal user, string action)
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
    private static async Task<(string? Text, ProblemHttpResult? Problem)> ReadProposalAsync(HttpRequest request, GatewayConfigProvider config)
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

    private static ProblemHttpResult UnknownDestination(string clusterId, string destinationId) =>
        Problem(StatusCodes.Status404NotFound, "Unknown destination", $"Cluster '{clusterId}' has no destination '{destinationId}'.");

    private static ProblemHttpResult Problem(int status, string title, string detail) => TypedResults.Problem(detail, statusCode: status, title: title);
}
