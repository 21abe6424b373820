using Microsoft.Extensions.DependencyInjection;
using Portico.Gateway.Configuration;
using Portico.Gateway.Resilience;
using Portico.Gateway.Routing;

namespace Microsoft.AspNetCore.Builder;

internal static class ResiliencePipelineExtensions
{
    /// <summary>The retry loop, timeouts and bulkhead of the route's resilience policy; each attempt runs the steps after it afresh.</summary>
    public static RoutePipelineBuilder UsePorticoResilience(this RoutePipelineBuilder pipeline)
    {
        if (HasPolicy(pipeline))
        {
            pipeline.Named("resilience").Use(pipeline.ApplicationServices.GetRequiredService<ResilienceMiddleware>().InvokeAsync);
        }
        return pipeline;
    }

    /// <summary>The chosen destination's circuit breaker, after load balancing, on routes with a resilience policy.</summary>
    public static RoutePipelineBuilder UsePorticoCircuitBreaker(this RoutePipelineBuilder pipeline)
    {
        if (HasPolicy(pipeline))
        {
            pipeline.Named("circuit-breaker").Use(CircuitBreakerStep.InvokeAsync);
        }
        return pipeline;
    }

    private static bool HasPolicy(RoutePipelineBuilder pipeline) =>
        pipeline.Route.Cluster is not null
        && pipeline.ApplicationServices.GetRequiredService<GatewayConfigProvider>().GetSection<ResilienceSettings>().PolicyByRoute.ContainsKey(pipeline.Route.Config.RouteId);
}
