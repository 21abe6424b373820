using Microsoft.Extensions.DependencyInjection;
using Portico.Gateway.Configuration;
using Portico.Gateway.Routing;

namespace Microsoft.AspNetCore.Builder;

public static class RoutingPipelineExtensions
{
    /// <summary>
    /// Runs, for each request, the proxy pipeline of its route (<see cref="RoutePipelineBuilder"/>), built by
    /// <paramref name="configure"/> for that route; the forwarder comes after it.
    /// </summary>
    public static IReverseProxyApplicationBuilder UseRoutePipelines(this IReverseProxyApplicationBuilder proxy, Action<RoutePipelineBuilder> configure)
    {
        var config = proxy.ApplicationServices.GetRequiredService<GatewayConfigProvider>();
        var index = proxy.ApplicationServices.GetRequiredService<RoutePipelineIndex>();
        proxy.Use(next => new RoutePipelines(proxy, next, configure, config, index).InvokeAsync);
        return proxy;
    }

    /// <summary>413 for a declared body over the route's limit, and problem+json bodies for the forwarder's own failures: every route.</summary>
    internal static RoutePipelineBuilder UsePorticoEdgeAnswers(this RoutePipelineBuilder pipeline)
    {
        pipeline.Named("body-limit").Use(pipeline.ApplicationServices.GetRequiredService<RequestBodyLimit>().InvokeAsync);
        pipeline.Named("proxy-problems").Use(ProxyErrorProblems.InvokeAsync);
        return pipeline;
    }

    /// <summary>YARP's session affinity, on routes whose cluster turns it on.</summary>
    internal static RoutePipelineBuilder UseSessionAffinityWhereEnabled(this RoutePipelineBuilder pipeline)
    {
        if (pipeline.Cluster?.SessionAffinity?.Enabled == true)
        {
            pipeline.Named("session-affinity").UseSessionAffinity();
        }
        return pipeline;
    }

    /// <summary>YARP's load balancing, on every route (it picks among the destinations the steps before it left).</summary>
    internal static RoutePipelineBuilder UseLoadBalancingStep(this RoutePipelineBuilder pipeline)
    {
        pipeline.Named("load-balancing").UseLoadBalancing();
        return pipeline;
    }

    /// <summary>YARP's passive health checks, on routes whose cluster turns them on.</summary>
    internal static RoutePipelineBuilder UsePassiveHealthChecksWhereEnabled(this RoutePipelineBuilder pipeline)
    {
        if (pipeline.Cluster?.HealthCheck?.Passive?.Enabled == true)
        {
            pipeline.Named("passive-health").UsePassiveHealthChecks();
        }
        return pipeline;
    }
}
