using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Portico.Gateway.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace Portico.Gateway.Caching;

/// <summary>
/// The cache step of the proxy pipeline, outside resilience so that retries come first and a stale answer
/// is the last resort. Fresh: HIT without going upstream. Stale within stale-while-revalidate: STALE at
/// once plus one background refresh. Missing: one request goes upstream per key (MISS) and concurrent
/// requests for that key wait for it (COALESCED). Upstream failing with a stale entry within
/// stale-if-error: STALE.
/// </summary>
internal sealed class CachingMiddleware(GatewayConfigProvider config, CacheTiers tiers, CacheRefresher refresher, CacheMetrics metrics, TimeProvider time)
{
    private const string PublicPartition = "public";

    private readonly ConcurrentDictionary<string, TaskCompletionSource<CacheEntry?>> _inFlight = new(StringComparer.Ordinal);
    private readonly ConditionalWeakTable<Endpoint, EarlyHitRoute> _earlyHitRoutes = new();

    /// <summary>
    /// Runs right after routing. A fresh entry in the memory tier for a GET or HEAD without a token or an
    /// <c>Origin</c>, on an anonymous route with a public cache policy and no rate limit, is sent from here:
    /// CORS, identity, the rate limiter and YARP's per-route pipeline would pass such a request through
    /// unchanged, and skipping them is most of a hit's cost. Everything else takes the full path below.
    /// </summary>
    public Task ServeEarlyHits(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        if (context.GetEndpoint() is not { } endpoint
            || EarlyHitRouteFor(endpoint) is not { Policy: { } policy } route
            || !(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method))
            || request.Headers.Authorization.Count != 0
            || request.Headers.Origin.Count != 0
            || !tiers.TryGetMemory(CacheKey.Build(route.RouteId, request, policy, PublicPartition), out var entry))
        {
            return next(context);
        }
        var now = time.GetUtcNow();
        if (now >= entry.FreshUntil)
        {
            return next(context);
        }
        CacheMetrics.Count(route.Results, CacheResult.Hit);
        return ServeAsync(context, entry, "HIT", now);
    }

    /// <summary>Whether an endpoint qualifies for <see cref="ServeEarlyHits"/>, decided once per endpoint and gateway file.</summary>
    private EarlyHitRoute EarlyHitRouteFor(Endpoint endpoint)
    {
        var settings = config.GetSection<CachingSettings>();
        if (_earlyHitRoutes.TryGetValue(endpoint, out var known) && ReferenceEquals(known.Settings, settings))
        {
            return known;
        }
        var metadata = endpoint.Metadata;
        var route = new EarlyHitRoute(settings, "", [], null);
        if (metadata.GetMetadata<RouteModel>() is { } model
            && settings.PolicyByRoute.TryGetValue(model.Config.RouteId, out var named)
            && named.Policy.Scope == CacheScope.Public
            && metadata.GetMetadata<IAllowAnonymous>() is not null
            && metadata.GetMetadata<EnableRateLimitingAttribute>() is null)
        {
            route = new EarlyHitRoute(settings, model.Config.RouteId, metrics.ResultsOf(named.Name), named.Policy);
        }
        _earlyHitRoutes.AddOrUpdate(endpoint, route);
        return route;
    }

    private sealed record EarlyHitRoute(CachingSettings Settings, string RouteId, long[] Results, CachePolicy? Policy);

    public Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        var proxy = context.GetReverseProxyFeature();
        var routeId = proxy.Route.Config.RouteId;
        // A route without a cache policy costs one lookup, not an async frame.
        return config.GetSection<CachingSettings>().PolicyByRoute.TryGetValue(routeId, out var named)
            ? InvokeCachedAsync(context, next, proxy, routeId, named.Name, named.Policy)
            : next();
    }

    private async Task InvokeCachedAsync(HttpContext context, Func<Task> next, IReverseProxyFeature proxy, string routeId, string policyName, CachePolicy policy)
    {
        var request = context.Request;
        var partition = Partition(context, policy);
        if (!(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)) || partition is null)
        {
            metrics.Result(policyName, CacheResult.Bypass);
            context.Response.Headers[CachePolicies.ResultHeader] = "BYPASS";
            await next();
            return;
        }

        var key = CacheKey.Build(routeId, request, policy, partition);
        var entry = await tiers.GetAsync(key, policy);
        var now = time.GetUtcNow();
        CacheEntry? fallback = null;
        if (entry is not null)
        {
            if (now < entry.FreshUntil)
            {
                metrics.Result(policyName, CacheResult.Hit);
                await ServeAsync(context, entry, "HIT", now);
                return;
            }
            if (now < entry.StaleWhileRevalidateUntil)
            {
                metrics.Result(policyName, CacheResult.Stale);
                refresher.RefreshOnce(key, context, proxy.Route, policy, policyName);
                await ServeAsync(context, entry, "STALE", now);
                return;
            }
            if (now < entry.StaleIfErrorUntil)
            {
                fallback = entry;
            }
        }

        // One request per key goes upstream; the others wait for its answer, for a bounded time.
        var leader = new TaskCompletionSource<CacheEntry?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var current = _inFlight.GetOrAdd(key, leader);
        if (!ReferenceEquals(current, leader))
        {
            var shared = await WaitAsync(current.Task, policy.CoalescingTimeout, context.RequestAborted);
            if (shared is not null)
            {
                metrics.Result(policyName, CacheResult.Coalesced);
                await ServeAsync(context, shared, "COALESCED", time.GetUtcNow());
                return;
            }
            leader = null; // its answer could not be shared: go upstream on our own
        }

        CacheEntry? stored = null;
        try
        {
            stored = await FetchAsync(context, next, key, policy, policyName, proxy.Route, fallback);
        }
        finally
        {
            if (leader is not null)
            {
                _inFlight.TryRemove(new KeyValuePair<string, TaskCompletionSource<CacheEntry?>>(key, leader));
                leader.TrySetResult(stored);
            }
        }
    }

    private async Task<CacheEntry?> FetchAsync(HttpContext context, Func<Task> next, string key, CachePolicy policy, string policyName,
        RouteModel route, CacheEntry? fallback)
    {
        var response = context.Response;
        var feature = fallback is null ? null : new CacheFallbackFeature();
        context.Features.Set(feature);
        var originalBody = response.Body;
        // Whether the request carried credentials, not whether they validated (RFC 9111 §3.5).
        var authenticated = context.Request.Headers.Authorization.Count != 0;
        CacheEntry? stored = null;
        async ValueTask StoreAsync(byte[] body)
        {
            if (context.Features.Get<IForwarderErrorFeature>() is null && CreateEntry(response, body, route.Config.RouteId, policy, authenticated) is { } entry)
            {
                await tiers.SetAsync(key, entry, policy);
                metrics.Stored(policyName, entry.Body.Length);
                stored = entry;
            }
        }
        var capture = HttpMethods.IsGet(context.Request.Method)
            ? new CaptureStream(originalBody, policy.MaxEntrySize, () => response.ContentLength, StoreAsync)
            : null;
        if (capture is not null)
        {
            response.Body = capture;
        }
        response.Headers[CachePolicies.ResultHeader] = "MISS";
        try
        {
            await next();
        }
        finally
        {
            response.Body = originalBody;
            context.Features.Set<CacheFallbackFeature>(null);
        }

        var error = context.Features.Get<IForwarderErrorFeature>();
        if (fallback is not null && !response.HasStarted && (feature!.UpstreamFailed || error is not null || response.StatusCode >= 500))
        {
            context.Features.Set<IForwarderErrorFeature>(null);
            capture?.Dispose();
            metrics.Result(policyName, CacheResult.Stale);
            await ServeAsync(context, fallback, "STALE", time.GetUtcNow(), clear: true);
            return null;
        }
        metrics.Result(policyName, CacheResult.Miss);
        if (capture is null || capture.Delivered || !capture.Complete || error is not null || context.RequestAborted.IsCancellationRequested)
        {
            capture?.Dispose();
            return stored;
        }
        // No declared length (chunked, or empty): stored now that the answer is complete.
        var captured = capture.Captured;
        capture.Dispose();
        await StoreAsync(captured);
        return stored;
    }

    /// <summary>An entry from a finished answer, or null when the answer must not be stored.</summary>
    internal CacheEntry? CreateEntry(HttpResponse response, byte[] body, string routeId, CachePolicy policy, bool requestHadAuthorization)
    {
        if (CacheabilityRules.Freshness(response, policy, requestHadAuthorization) is not { } ttl)
        {
            return null;
        }
        var now = time.GetUtcNow();
        return new CacheEntry
        {
            Status = response.StatusCode,
            Headers = CacheabilityRules.StoredHeaders(response),
            Body = body,
            RouteId = routeId,
            Tags = policy.Tags,
            StoredAt = now,
            FreshUntil = now + ttl,
            StaleWhileRevalidateUntil = now + ttl + policy.StaleWhileRevalidate,
            StaleIfErrorUntil = now + ttl + policy.StaleIfError,
        };
    }

    private static Task ServeAsync(HttpContext context, CacheEntry entry, string result, DateTimeOffset now, bool clear = false)
    {
        var response = context.Response;
        if (clear)
        {
            response.Clear();
        }
        response.StatusCode = entry.Status;
        foreach (var (name, values) in entry.Headers)
        {
            response.Headers[name] = values;
        }
        response.Headers.Age = CacheabilityRules.Age(entry.StoredAt, now);
        response.Headers[CachePolicies.ResultHeader] = result;
        // RFC 9110 §6.4.1: a 204 or 304 has no content, and no Content-Length may announce one; HEAD gets the head alone.
        if (entry.Status is StatusCodes.Status204NoContent or StatusCodes.Status304NotModified)
        {
            response.Headers.ContentLength = null;
            return Task.CompletedTask;
        }
        response.ContentLength = entry.Body.Length;
        if (HttpMethods.IsHead(context.Request.Method) || entry.Body.Length == 0)
        {
            return Task.CompletedTask;
        }
        var write = response.Body.WriteAsync(entry.Body, context.RequestAborted);
        return write.IsCompletedSuccessfully ? Task.CompletedTask : write.AsTask();
    }

    private static async Task<CacheEntry?> WaitAsync(Task<CacheEntry?> task, TimeSpan timeout, CancellationToken aborted)
    {
        try
        {
            return await task.WaitAsync(timeout, aborted);
        }
        catch (TimeoutException)
        {
            return null;
        }
    }

    /// <summary>The auth partition: everyone for public entries, the user for private ones (null: do not cache).</summary>
    private static string? Partition(HttpContext context, CachePolicy policy) => policy.Scope switch
    {
        CacheScope.Public => PublicPartition,
        _ => context.User.FindFirst("sub")?.Value is { Length: > 0 } subject ? "user:" + subject : null,
    };
}
