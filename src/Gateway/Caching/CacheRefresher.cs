using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;
using Portico.Gateway.Resilience;
using Yarp.ReverseProxy.Model;

namespace Portico.Gateway.Caching;

/// <summary>
/// Refreshes a stale entry in the background, once per key however many requests see it stale. The
/// request is rebuilt from the one that found the entry (same path, query, vary headers and user) with the route's
/// own transforms, so it looks upstream like any other, and sent through the cluster client (load balancing over
/// healthy destinations, breakers, the cluster's resilience policy, metrics).
/// </summary>
internal sealed partial class CacheRefresher(ClusterClient clusters, IServiceProvider services, TimeProvider time, ILogger<CacheRefresher> logger)
{
    private readonly ConcurrentDictionary<string, byte> _refreshing = new(StringComparer.Ordinal);

    public void RefreshOnce(string key, HttpContext original, RouteModel route, CachePolicy policy, string policyName, CacheEntry stale)
    {
        if (!_refreshing.TryAdd(key, 0))
        {
            return;
        }
        var (request, replayed) = Snapshot(original, policy, stale);
        _ = Task.Run(async () =>
        {
            try
            {
                await RefreshAsync(key, request, replayed, route, policy, policyName, stale);
            }
            catch (Exception ex) when (ex is ClusterCallException or HttpRequestException or OperationCanceledException or IOException)
            {
                Log.RefreshFailed(logger, route.Config.RouteId, ex.Message);
            }
            finally
            {
                _refreshing.TryRemove(key, out _);
            }
        });
    }

    private async Task RefreshAsync(string key, DefaultHttpContext context, string[] replayed, RouteModel route, CachePolicy policy, string policyName,
        CacheEntry stale)
    {
        if (route.Cluster?.Model is not { } model)
        {
            return;
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30), time);
        context.RequestAborted = timeout.Token;
        var version = model.Config.HttpRequest?.Version ?? HttpVersion.Version20;
        var versionPolicy = model.Config.HttpRequest?.VersionPolicy ?? HttpVersionPolicy.RequestVersionOrLower;

        // Built by the route's own transformer for the destination chosen, as YARP's forwarder would build it.
        async ValueTask<HttpRequestMessage> CreateRequest(DestinationState destination, CancellationToken cancellationToken)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, (Uri?)null) { Version = version, VersionPolicy = versionPolicy };
            await route.Transformer.TransformRequestAsync(context, request, destination.Model.Config.Address, cancellationToken);
            return request;
        }

        var requestTime = time.GetUtcNow();
        using var body = new MemoryStream();
        using (var answer = await clusters.SendAsync(context, route.Cluster.ClusterId, idempotent: true, CreateRequest, timeout.Token))
        {
            context.Response.StatusCode = (int)answer.StatusCode;
            await route.Transformer.TransformResponseAsync(context, answer, timeout.Token);
            await using var stream = await answer.Content.ReadAsStreamAsync(timeout.Token);
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0 && body.Length <= policy.MaxEntrySize)
            {
                body.Write(buffer, 0, read);
            }
        }
        if (body.Length > policy.MaxEntrySize)
        {
            return;
        }
        var tiers = services.GetRequiredService<CacheTiers>();
        var cache = services.GetRequiredService<CachingMiddleware>();
        var response = context.Response;
        var hadAuthorization = context.Request.Headers.Authorization.Count != 0;
        CacheEntry? entry;
        if (response.StatusCode == StatusCodes.Status304NotModified)
        {
            // RFC 9111 §4.3.4: the stored answer is still good; the 304 updates its fields and freshness.
            entry = cache.CreateEntry(stale.Status, CacheabilityRules.Merge(stale.Headers, response.Headers), stale.Body, route.Config.RouteId, policy,
                hadAuthorization, requestTime, context.Request);
        }
        else if ((CacheabilityRules.VaryNames(response.Headers) ?? []).All(name => replayed.Contains(name, StringComparer.OrdinalIgnoreCase)))
        {
            // Stored only when the request replayed every header the answer varies on: its variant is then the original's.
            entry = cache.CreateEntry(response.StatusCode, response.Headers, body.ToArray(), route.Config.RouteId, policy, hadAuthorization, requestTime,
                context.Request);
        }
        else
        {
            entry = null;
        }
        if (entry is not null)
        {
            await tiers.SetAsync(key, entry, policy);
            services.GetRequiredService<CacheMetrics>().Stored(policyName, entry.Body.Length);
        }
    }

    /// <summary>A detached copy of what the upstream needs to see; the original request ends before the refresh does.</summary>
    private (DefaultHttpContext Context, string[] Replayed) Snapshot(HttpContext original, CachePolicy policy, CacheEntry stale)
    {
        var context = new DefaultHttpContext { RequestServices = services, User = original.User };
        var request = context.Request;
        request.Method = HttpMethods.Get;
        request.Scheme = original.Request.Scheme;
        request.Host = original.Request.Host;
        request.PathBase = original.Request.PathBase;
        request.Path = original.Request.Path;
        request.QueryString = original.Request.QueryString;
        string[] replayed = ["Accept", "Accept-Language", "Authorization", "X-Request-Id", .. policy.VaryByHeaders, .. stale.VaryNames];
        foreach (var name in replayed)
        {
            if (original.Request.Headers.TryGetValue(name, out var value))
            {
                request.Headers[name] = value;
            }
        }
        // RFC 9111 §4.3.1: validate with the stored validators, so an unchanged answer costs a 304.
        if (CacheabilityRules.Header(stale, HeaderNames.ETag) is { } etag)
        {
            request.Headers.IfNoneMatch = etag;
        }
        if (CacheabilityRules.Header(stale, HeaderNames.LastModified) is { } lastModified)
        {
            request.Headers.IfModifiedSince = lastModified;
        }
        context.Connection.RemoteIpAddress = original.Connection.RemoteIpAddress;
        return (context, replayed);
    }

    private static partial class Log
    {
        [LoggerMessage(301, LogLevel.Warning, "Cache: background refresh for route {RouteId} failed: {Reason}")]
        public static partial void RefreshFailed(ILogger logger, string routeId, string reason);
    }
}
