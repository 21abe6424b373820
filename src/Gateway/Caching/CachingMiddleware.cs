using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Portico.Gateway.Configuration;
using Portico.Gateway.RateLimiting;
using Portico.Gateway.Routing;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace Portico.Gateway.Caching;

/// <summary>
/// The cache step of the proxy pipeline, outside resilience so that retries come first and a stale answer
/// is the last resort. Fresh: HIT without going upstream. Stale within stale-while-revalidate: STALE at
/// once plus one background refresh. Missing: one request goes upstream per key (MISS) and concurrent
/// requests for that key wait for it (COALESCED). Upstream failing with a stale entry within
/// stale-if-error: STALE. Expired with validators: the request goes upstream conditionally and a 304 refreshes
/// the entry (REVALIDATED). What may be stored and for how long is <see cref="CacheabilityRules"/>' decision.
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
            || !tiers.TryGetMemory(CacheKey.Build(route.RouteId, request, policy, PublicPartition), request.Headers, out var entry))
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
            && metadata.GetMetadata<EnableRateLimitingAttribute>() is null
            // The route's own file entry says whether it is rate-limited; the rate limiter's state is its own.
            && model.Config.Metadata?.ContainsKey(RateLimitPolicies.MetadataKey) != true)
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
        var settings = config.GetSection<CachingSettings>();
        // A route without a cache policy costs one lookup, not an async frame; an unsafe method on it may still
        // invalidate what another route stored for the same URI (RFC 9111 §4.4).
        if (settings.PolicyByRoute.TryGetValue(routeId, out var named))
        {
            return InvokeCachedAsync(context, next, proxy, routeId, named.Name, named.Policy);
        }
        if (settings.PolicyByRoute.Count != 0 && IsUnsafe(context.Request.Method))
        {
            InvalidateOnSuccess(context);
        }
        return next();
    }

    /// <summary>RFC 9110 §9.2.1: GET, HEAD, OPTIONS and TRACE are safe; every other method is not.</summary>
    internal static bool IsUnsafe(string method) =>
        !(HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method));

    /// <summary>
    /// RFC 9111 §4.4: a 2xx or 3xx answer to an unsafe method invalidates the stored GETs of its URI and of the same-origin
    /// Location and Content-Location it names, before the client sees the answer (and so can ask again).
    /// </summary>
    private void InvalidateOnSuccess(HttpContext context) => context.Response.OnStarting(static state =>
    {
        var (tiers, context) = ((CacheTiers, HttpContext))state;
        var response = context.Response;
        if (response.StatusCode is < 200 or > 399 || context.Features.Get<IForwarderErrorFeature>() is not null)
        {
            return Task.CompletedTask;
        }
        var request = context.Request;
        var targets = new List<string>(3) { CacheKey.Target(request) };
        // A Host that makes no URI leaves the request's own target alone to invalidate.
        Uri.TryCreate(UriHelper.BuildAbsolute(request.Scheme, request.Host, request.PathBase, request.Path, request.QueryString), UriKind.Absolute, out var requestUri);
        foreach (var name in (string[])[HeaderNames.Location, HeaderNames.ContentLocation])
        {
            if (requestUri is not null && response.Headers.TryGetValue(name, out var value) && Uri.TryCreate(requestUri, value.ToString(), out var uri)
                && Uri.Compare(uri, requestUri, UriComponents.SchemeAndServer, UriFormat.UriEscaped, StringComparison.OrdinalIgnoreCase) == 0)
            {
                targets.Add(CacheKey.Target(PathString.FromUriComponent(uri), QueryString.FromUriComponent(uri)));
            }
        }
        return tiers.InvalidateAsync(targets);
    }, (tiers, context));

    private async Task InvokeCachedAsync(HttpContext context, Func<Task> next, IReverseProxyFeature proxy, string routeId, string policyName, CachePolicy policy)
    {
        var request = context.Request;
        var response = context.Response;
        var partition = Partition(context, policy);
        if (!(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)) || partition is null)
        {
            metrics.Result(policyName, CacheResult.Bypass);
            response.Headers[CachePolicies.ResultHeader] = "BYPASS";
            response.Headers[CachePolicies.StatusHeader] = "Portico; fwd=bypass";
            if (IsUnsafe(request.Method))
            {
                InvalidateOnSuccess(context);
            }
            response.OnStarting(s_removeTargetedField, response);
            await next();
            return;
        }

        var key = CacheKey.Build(routeId, request, policy, partition);
        var entry = await tiers.GetAsync(key, request.Headers, policy);
        var now = time.GetUtcNow();
        CacheEntry? fallback = null;
        CacheEntry? validating = null;
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
                refresher.RefreshOnce(key, context, proxy.Route, policy, policyName, entry);
                await ServeAsync(context, entry, "STALE", now);
                return;
            }
            if (now < entry.StaleIfErrorUntil)
            {
                fallback = entry;
            }
            if (entry.HasValidators && HttpMethods.IsGet(request.Method))
            {
                validating = entry; // §4.3.1: ask the origin whether the stored answer is still good
            }
        }

        // One request per key goes upstream; the others wait for its answer, for a bounded time.
        var leader = new TaskCompletionSource<CacheEntry?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var current = _inFlight.GetOrAdd(key, leader);
        if (!ReferenceEquals(current, leader))
        {
            var shared = await WaitAsync(current.Task, policy.CoalescingTimeout, context.RequestAborted);
            // The leader's answer fits only if it does not vary, or varies the same way for this request (§4.1).
            if (shared is not null && (shared.VaryNames.Length == 0 || CacheKey.Variant(shared.VaryNames, request.Headers) == shared.Variant))
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
            stored = await FetchAsync(context, next, key, policy, policyName, proxy.Route, fallback, validating);
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
        RouteModel route, CacheEntry? fallback, CacheEntry? validating)
    {
        var request = context.Request;
        var response = context.Response;
        var feature = fallback is null ? null : new FailureFallbackFeature();
        context.Features.Set(feature);
        var originalBody = response.Body;
        // Whether the request carried credentials, not whether they validated (RFC 9111 §3.5).
        var hadAuthorization = request.Headers.Authorization.Count != 0;
        var requestTime = time.GetUtcNow();
        CacheEntry? stored = null;
        var miss = new MissState(context, validating is null ? "uri-miss" : "stale");
        async ValueTask StoreAsync(byte[] body)
        {
            if (context.Features.Get<IForwarderErrorFeature>() is null
                && CreateEntry(response.StatusCode, miss.HeadersAsReceived(), body, route.Config.RouteId, policy, hadAuthorization, requestTime, request) is { } entry)
            {
                await tiers.SetAsync(key, entry, policy);
                metrics.Stored(policyName, entry.Body.Length);
                stored = entry;
            }
        }
        var capture = HttpMethods.IsGet(request.Method)
            ? new CaptureStream(originalBody, policy.MaxEntrySize, () => response.ContentLength, StoreAsync)
            : null;
        if (capture is not null)
        {
            response.Body = capture;
        }
        // §4.3.1: the stored validators replace the client's own conditions, which are answered from the result (§4.3.2).
        var clientConditions = validating is null ? default : (request.Headers.IfNoneMatch, request.Headers.IfModifiedSince);
        if (validating is not null)
        {
            request.Headers.IfNoneMatch = CacheabilityRules.Header(validating, HeaderNames.ETag);
            request.Headers.IfModifiedSince = CacheabilityRules.Header(validating, HeaderNames.LastModified);
        }
        response.Headers[CachePolicies.ResultHeader] = "MISS";
        response.OnStarting(s_describeMiss, miss);
        try
        {
            await next();
        }
        finally
        {
            response.Body = originalBody;
            context.Features.Set<FailureFallbackFeature>(null);
            if (validating is not null)
            {
                (request.Headers.IfNoneMatch, request.Headers.IfModifiedSince) = clientConditions;
            }
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
        if (validating is not null && error is null && response.StatusCode == StatusCodes.Status304NotModified && !response.HasStarted)
        {
            // §4.3.3, §4.3.4: still good; the 304's fields update the stored ones and the entry is fresh again.
            capture?.Dispose();
            var merged = CacheabilityRules.Merge(validating.Headers, response.Headers);
            var refreshed = CreateEntry(validating.Status, merged, validating.Body, route.Config.RouteId, policy, hadAuthorization, requestTime, request);
            if (refreshed is not null)
            {
                await tiers.SetAsync(key, refreshed, policy);
            }
            metrics.Result(policyName, CacheResult.Revalidated);
            await ServeAsync(context, refreshed ?? validating, "REVALIDATED", time.GetUtcNow(), clear: true);
            return refreshed;
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

    /// <summary>RFC 9211 for an answer that went to the origin, and the Portico-targeted field kept from the client.</summary>
    private static readonly Func<object, Task> s_describeMiss = static state =>
    {
        var miss = (MissState)state;
        var response = miss.Context.Response;
        var headers = response.Headers;
        if (headers[CachePolicies.ResultHeader] == "MISS")
        {
            headers[CachePolicies.StatusHeader] = $"Portico; fwd={miss.Forward}; fwd-status={response.StatusCode.ToString(CultureInfo.InvariantCulture)}";
        }
        if (headers.TryGetValue(CacheDirectives.PorticoCacheControl, out var targeted))
        {
            miss.PorticoCacheControl = targeted;
            headers.Remove(CacheDirectives.PorticoCacheControl);
        }
        return Task.CompletedTask;
    };

    /// <summary>A miss on its way: how it went forward, and the field for Portico alone that the client does not get.</summary>
    private sealed class MissState(HttpContext context, string forward)
    {
        public HttpContext Context { get; } = context;
        public string Forward { get; } = forward;
        public StringValues PorticoCacheControl { get; set; }

        /// <summary>The answer's fields as the origin sent them, for deciding whether to store it.</summary>
        public IHeaderDictionary HeadersAsReceived()
        {
            var headers = Context.Response.Headers;
            if (StringValues.IsNullOrEmpty(PorticoCacheControl))
            {
                return headers;
            }
            var copy = new HeaderDictionary();
            foreach (var (name, values) in headers)
            {
                copy[name] = values;
            }
            copy[CacheDirectives.PorticoCacheControl] = PorticoCacheControl;
            return copy;
        }
    }

    private static readonly Func<object, Task> s_removeTargetedField = static state =>
    {
        ((HttpResponse)state).Headers.Remove(CacheDirectives.PorticoCacheControl);
        return Task.CompletedTask;
    };

    /// <summary>An entry from a finished answer, or null when the answer must not be stored.</summary>
    internal CacheEntry? CreateEntry(int status, IHeaderDictionary headers, byte[] body, string routeId, CachePolicy policy,
        bool requestHadAuthorization, DateTimeOffset requestTime, HttpRequest request)
    {
        var now = time.GetUtcNow();
        if (CacheabilityRules.Plan(status, headers, policy, requestHadAuthorization, requestTime, now) is not { } plan)
        {
            return null;
        }
        var varyNames = CacheabilityRules.VaryNames(headers) ?? [];
        var freshUntil = now + plan.FreshFor;
        return new CacheEntry
        {
            Status = status,
            Headers = CacheabilityRules.StoredHeaders(headers, now),
            Body = body,
            RouteId = routeId,
            Tags = policy.Tags,
            StoredAt = now,
            FreshUntil = freshUntil,
            StaleWhileRevalidateUntil = freshUntil + plan.StaleWhileRevalidate,
            StaleIfErrorUntil = freshUntil + plan.StaleIfError,
            InitialAge = plan.InitialAge,
            Target = CacheKey.Target(request),
            VaryNames = varyNames,
            Variant = varyNames.Length == 0 ? "" : CacheKey.Variant(varyNames, request.Headers),
        };
    }

    private static Task ServeAsync(HttpContext context, CacheEntry entry, string result, DateTimeOffset now, bool clear = false)
    {
        var request = context.Request;
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
        response.Headers.Remove(CacheDirectives.PorticoCacheControl); // stored to decide a 304's merge, never sent on
        response.Headers.Age = CacheabilityRules.Age(entry.AgeAt(now));
        response.Headers[CachePolicies.ResultHeader] = result;
        response.Headers[CachePolicies.StatusHeader] = CacheStatus(result, entry, now);

        if (CacheabilityRules.IsNotModified(request, entry))
        {
            // §4.3.2: the client's validator matches the stored answer.
            response.StatusCode = StatusCodes.Status304NotModified;
            foreach (var (name, _) in entry.Headers)
            {
                if (!CacheabilityRules.BelongsOnNotModified(name))
                {
                    response.Headers.Remove(name);
                }
            }
            response.Headers.ContentLength = null;
            return Task.CompletedTask;
        }
        // RFC 9110 §6.4.1: a 204 or 304 has no content, and no Content-Length may announce one; HEAD gets the head alone.
        if (entry.Status is StatusCodes.Status204NoContent or StatusCodes.Status304NotModified)
        {
            response.Headers.ContentLength = null;
            return Task.CompletedTask;
        }
        var body = entry.Body.AsMemory();
        if (CacheabilityRules.Range(request, entry) is { } range)
        {
            // RFC 9110 §14.2, §15.3.7, §15.5.17: one range of the stored full answer, or 416 when none of it is there.
            var total = entry.Body.Length.ToString(CultureInfo.InvariantCulture);
            if (!range.Satisfiable)
            {
                response.StatusCode = StatusCodes.Status416RangeNotSatisfiable;
                response.Headers.ContentRange = "bytes */" + total;
                response.ContentLength = 0;
                return Task.CompletedTask;
            }
            response.StatusCode = StatusCodes.Status206PartialContent;
            response.Headers.ContentRange = FormattableString.Invariant($"bytes {range.From}-{range.From + range.Length - 1}/{total}");
            body = body.Slice((int)range.From, (int)range.Length);
        }
        response.ContentLength = body.Length;
        if (HttpMethods.IsHead(request.Method) || body.Length == 0)
        {
            return Task.CompletedTask;
        }
        var write = response.Body.WriteAsync(body, context.RequestAborted);
        return write.IsCompletedSuccessfully ? Task.CompletedTask : write.AsTask();
    }

    /// <summary>RFC 9211: how the cache handled the request, with the remaining freshness in seconds (negative when stale).</summary>
    private static string CacheStatus(string result, CacheEntry entry, DateTimeOffset now)
    {
        var ttl = ((long)Math.Floor((entry.FreshUntil - now).TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return result switch
        {
            "HIT" => "Portico; hit; ttl=" + ttl,
            "COALESCED" => "Portico; fwd=uri-miss; collapsed; stored; ttl=" + ttl,
            "REVALIDATED" => "Portico; fwd=stale; fwd-status=304; stored; ttl=" + ttl,
            _ => "Portico; hit; ttl=" + ttl + "; detail=stale",
        };
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
