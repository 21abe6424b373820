using Portico.Gateway.Caching;
using Portico.Gateway.Composition;
using Portico.Gateway.Configuration;
using Portico.Gateway.RateLimiting;
using Portico.Gateway.Resilience;
using Portico.Gateway.Routing;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace Portico.Gateway.Admin;

internal sealed record RouteView(string RouteId, string Kind, string? ClusterId, string? Path, IReadOnlyList<string>? Methods, string Authorization,
    string? RateLimit, string? Cache, string? Resilience, string? Timeout, long? MaxRequestBodySize, IReadOnlyList<string>? Steps = null);

internal sealed record ClusterView(string ClusterId, string LoadBalancingPolicy, int AvailableDestinations, IReadOnlyList<DestinationView> Destinations);

/// <summary>
/// One destination as an operator sees it. <see cref="Status"/> sums the rest up for a tile's colour: <c>drained</c>,
/// <c>open</c> (a breaker is open), <c>unhealthy</c> (active or passive health says so), <c>half-open</c>, <c>unknown</c>
/// (not probed yet) or <c>healthy</c>.
/// </summary>
internal sealed record DestinationView(string DestinationId, string Address, string ActiveHealth, string PassiveHealth, int ConcurrentRequests,
    bool Available, bool Drained, IReadOnlyList<BreakerView> Breakers, string Status);

internal sealed record BreakerView(string Policy, string State);

internal sealed record CachePolicyView(string Policy, IReadOnlyList<string> Routes, IReadOnlyList<string> Tags, string Mode, long Hits, long Lookups,
    double? HitRatio, int Entries, long Bytes);

/// <summary>The read models of the admin API, built from what each feature exposes (its settings in force and its live state).</summary>
internal sealed class AdminViews(GatewayConfigProvider config, IProxyStateLookup proxy, ResilienceStates resilience, DestinationDrains drains,
    CacheTiers cache, CacheMetrics cacheMetrics)
{
    public IReadOnlyList<RouteView> Routes()
    {
        var current = config.GetConfig();
        var caching = config.GetSection<CachingSettings>();
        var rateLimits = config.GetSection<RateLimitingSettings>();
        var policies = config.GetSection<ResilienceSettings>();
        var routes = current.Routes.OrderBy(r => r.RouteId, StringComparer.Ordinal).Select(r => new RouteView(
            r.RouteId, "proxy", r.ClusterId, r.Match.Path, r.Match.Methods?.ToList(), Authorization(r.AuthorizationPolicy),
            rateLimits.PolicyByRoute.TryGetValue(r.RouteId, out var limit) ? limit.Name : r.RateLimiterPolicy,
            caching.PolicyByRoute.TryGetValue(r.RouteId, out var cached) ? cached.Name : r.OutputCachePolicy,
            policies.PolicyByRoute.GetValueOrDefault(r.RouteId),
            r.TimeoutPolicy ?? r.Timeout?.ToString(), r.MaxRequestBodySize)).ToList();
        routes.AddRange(config.GetSection<CompositionSettings>().Plans.OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => new RouteView(
            p.Name, "composition", null, p.Path, [p.Method], Authorization(p.AuthorizationPolicy), null, null, null, p.Timeout.ToString(),
            p.MaxRequestBodySize, [.. p.Steps.Select(s => $"{s.Name} → {s.Cluster}")])));
        return routes;
    }

    public IReadOnlyList<ClusterView> Clusters()
    {
        var breakers = resilience.All
            .SelectMany(state => state.BreakerStates().Select(b => (state.ClusterId, state.PolicyName, b.DestinationId, b.State)))
            .ToLookup(b => (b.ClusterId, b.DestinationId));
        return [.. proxy.GetClusters().OrderBy(c => c.ClusterId, StringComparer.Ordinal).Select(cluster =>
        {
            var available = cluster.DestinationsState.AvailableDestinations;
            return new ClusterView(
                cluster.ClusterId,
                cluster.Model.Config.LoadBalancingPolicy ?? "PowerOfTwoChoices",
                available.Count,
                [.. cluster.DestinationsState.AllDestinations.OrderBy(d => d.DestinationId, StringComparer.Ordinal).Select(d =>
                {
                    var own = breakers[(cluster.ClusterId, d.DestinationId)].Select(b => new BreakerView(b.PolicyName, Name(b.State))).ToList();
                    var drained = drains.IsDrained(cluster.ClusterId, d.DestinationId);
                    return new DestinationView(d.DestinationId, d.Model.Config.Address, d.Health.Active.ToString(), d.Health.Passive.ToString(),
                        d.ConcurrentRequestCount, available.Contains(d), drained, own, Status(d, drained, own));
                })]);
        })];
    }

    public IReadOnlyList<CachePolicyView> CachePolicies()
    {
        var usage = cache.MemoryUsageByRoute();
        return [.. config.GetSection<CachingSettings>().PolicyByRoute
            .GroupBy(r => r.Value.Name, StringComparer.OrdinalIgnoreCase)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g =>
            {
                var policy = g.First().Value.Policy;
                var routes = g.Select(r => r.Key).Order(StringComparer.Ordinal).ToList();
                var (hits, lookups) = cacheMetrics.HitsOf(g.Key);
                var held = routes.Select(r => usage.GetValueOrDefault(r)).ToList();
                return new CachePolicyView(g.Key, routes, policy.Tags, policy.Ttl is null ? "standard" : "override", hits, lookups,
                    lookups == 0 ? null : Math.Round((double)hits / lookups, 4), held.Sum(h => h.Entries), held.Sum(h => h.Bytes));
            })];
    }

    private static string Authorization(string? policy) => policy is { Length: > 0 } ? policy : "signed-in (default)";

    private static string Name(Polly.CircuitBreaker.CircuitState state) => state switch
    {
        Polly.CircuitBreaker.CircuitState.Open or Polly.CircuitBreaker.CircuitState.Isolated => "open",
        Polly.CircuitBreaker.CircuitState.HalfOpen => "half-open",
        _ => "closed",
    };

    private static string Status(DestinationState destination, bool drained, List<BreakerView> breakers)
    {
        if (drained)
        {
            return "drained";
        }
        if (breakers.Any(b => b.State == "open"))
        {
            return "open";
        }
        if (destination.Health.Active == DestinationHealth.Unhealthy || destination.Health.Passive == DestinationHealth.Unhealthy)
        {
            return "unhealthy";
        }
        if (breakers.Any(b => b.State == "half-open"))
        {
            return "half-open";
        }
        return destination.Health.Active == DestinationHealth.Healthy ? "healthy" : "unknown";
    }
}
