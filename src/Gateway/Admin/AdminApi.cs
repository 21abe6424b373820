using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Portico.Gateway.Caching;
using Portico.Gateway.Resilience;
using Portico.Gateway.Security;
using Yarp.ReverseProxy;

namespace Portico.Gateway.Admin;

/// <summary>The admin API under <c>/portico/api</c>: what the gateway knows about its clusters right now.</summary>
internal static class AdminApi
{
    public static IEndpointRouteBuilder MapPorticoAdminApi(this IEndpointRouteBuilder endpoints)
    {
        var options = endpoints.ServiceProvider.GetRequiredService<IOptions<AdminOptions>>().Value;
        var api = endpoints.MapGroup(options.PathPrefix + "/api").RequireAuthorization(GatewayAuthorizationPolicies.Admin);
        if (!options.AllowRemote)
        {
            api.AddEndpointFilter(static async (context, next) =>
                context.HttpContext.Connection.RemoteIpAddress is { } ip && System.Net.IPAddress.IsLoopback(ip)
                    ? await next(context)
                    : Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No route"));
        }
        api.MapGet("/clusters", GetClusters);
        api.MapDelete("/cache", PurgeCacheAsync);
        return endpoints;
    }

    private static IResult GetClusters(IProxyStateLookup proxy, ResilienceStates resilience)
    {
        var breakers = resilience.All
            .SelectMany(state => state.BreakerStates().Select(b => (state.ClusterId, state.PolicyName, b.DestinationId, b.State)))
            .ToLookup(b => (b.ClusterId, b.DestinationId));

        var clusters = proxy.GetClusters().OrderBy(c => c.ClusterId, StringComparer.Ordinal).Select(cluster => new ClusterView(
            cluster.ClusterId,
            cluster.Model.Config.LoadBalancingPolicy ?? "PowerOfTwoChoices",
            cluster.DestinationsState.AvailableDestinations.Count,
            cluster.DestinationsState.AllDestinations.Select(d => new DestinationView(
                d.DestinationId,
                d.Model.Config.Address,
                d.Health.Active.ToString(),
                d.Health.Passive.ToString(),
                d.ConcurrentRequestCount,
                breakers[(cluster.ClusterId, d.DestinationId)].Select(b => new BreakerView(b.PolicyName, b.State.ToString())).ToList())).ToList()));
        return Results.Ok(clusters);
    }

    /// <summary><c>DELETE /portico/api/cache?route=…</c> or <c>?tag=…</c>: clears both tiers on every instance.</summary>
    private static async Task<IResult> PurgeCacheAsync(string? route, string? tag, CacheTiers cache)
    {
        if (string.IsNullOrWhiteSpace(route) == string.IsNullOrWhiteSpace(tag))
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad purge", detail: "Give exactly one of 'route' and 'tag'.");
        }
        var removed = await cache.PurgeAsync(string.IsNullOrWhiteSpace(route) ? null : route, string.IsNullOrWhiteSpace(tag) ? null : tag);
        return Results.Ok(new { route, tag, removedHere = removed });
    }

    private sealed record ClusterView(string ClusterId, string LoadBalancingPolicy, int AvailableDestinations, IReadOnlyList<DestinationView> Destinations);

    private sealed record DestinationView(string DestinationId, string Address, string ActiveHealth, string PassiveHealth, int ConcurrentRequests,
        IReadOnlyList<BreakerView> Breakers);

    private sealed record BreakerView(string Policy, string State);
}
