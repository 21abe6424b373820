using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Portico.Gateway.Configuration;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Model;

namespace Portico.Gateway.Routing;

/// <summary>
/// The proxy pipeline a route runs, built for that route from its configuration: each feature's <c>UsePorticoX</c>
/// adds its step only when the route uses the feature, so a plain route runs none of the code of caching, rate
/// limiting or resilience. Built at a route's first request and again after every change of the gateway file
/// (YARP replaces a changed route's <see cref="RouteModel"/>; a new file version drops every pipeline).
/// </summary>
internal sealed class RoutePipelines(IApplicationBuilder proxy, RequestDelegate forward, Action<RoutePipelineBuilder> configure, GatewayConfigProvider config, RoutePipelineIndex index)
{
    private Built _built = new(null, new ConcurrentDictionary<RouteModel, RequestDelegate>());

    public Task InvokeAsync(HttpContext context)
    {
        var route = context.GetReverseProxyFeature().Route;
        var version = config.GetConfig();
        var built = _built;
        if (!ReferenceEquals(built.Version, version))
        {
            // A new file version: pipelines built from the previous one may hold steps the route no longer uses, or lack one.
            built = new Built(version, new ConcurrentDictionary<RouteModel, RequestDelegate>());
            _built = built;
            index.Clear();
        }
        return built.Pipelines.GetOrAdd(route, Build)(context);
    }

    private RequestDelegate Build(RouteModel route)
    {
        var builder = new RoutePipelineBuilder(proxy.New(), route);
        configure(builder);
        builder.Run(forward);
        index.Built(route.Config.RouteId, builder.Steps);
        return builder.Build();
    }

    private sealed record Built(IProxyConfig? Version, ConcurrentDictionary<RouteModel, RequestDelegate> Pipelines);
}

/// <summary>
/// Builds one route's proxy pipeline. YARP's own steps (<c>UseLoadBalancing</c>, <c>UsePassiveHealthChecks</c>, …) apply
/// as in <c>MapReverseProxy</c>; Portico's steps read <see cref="Route"/> and add themselves only where it uses them.
/// </summary>
public sealed class RoutePipelineBuilder : IReverseProxyApplicationBuilder
{
    private readonly IApplicationBuilder _inner;

    internal RoutePipelineBuilder(IApplicationBuilder inner, RouteModel route)
    {
        _inner = inner;
        Route = route;
    }

    /// <summary>The route this pipeline is for, with its cluster as it was when the pipeline was built.</summary>
    public RouteModel Route { get; }

    /// <summary>The names of the steps added so far, in order (for the admin API and tests).</summary>
    public IReadOnlyList<string> Steps => _steps;

    private readonly List<string> _steps = [];

    /// <summary>Adds a named step.</summary>
    public RoutePipelineBuilder Use(string name, Func<RequestDelegate, RequestDelegate> step)
    {
        _steps.Add(name);
        _inner.Use(step);
        return this;
    }

    /// <summary>Names the step the next call adds (for YARP's own <c>UseX</c> extensions, which call <see cref="Use(Func{RequestDelegate, RequestDelegate})"/>).</summary>
    public RoutePipelineBuilder Named(string name)
    {
        _steps.Add(name);
        return this;
    }

    /// <summary>The route's cluster configuration, if the route has a cluster.</summary>
    public ClusterConfig? Cluster => Route.Cluster?.Model.Config;

    public IServiceProvider ApplicationServices
    {
        get => _inner.ApplicationServices;
        set => _inner.ApplicationServices = value;
    }

    public IFeatureCollection ServerFeatures => _inner.ServerFeatures;

    public IDictionary<string, object?> Properties => _inner.Properties;

    public IApplicationBuilder Use(Func<RequestDelegate, RequestDelegate> middleware)
    {
        _inner.Use(middleware);
        return this;
    }

    public IApplicationBuilder New() => _inner.New();

    public RequestDelegate Build() => _inner.Build();
}

/// <summary>The steps of each route's pipeline as last built, by route id: what a request on that route passes through.</summary>
public sealed class RoutePipelineIndex
{
    private readonly ConcurrentDictionary<string, IReadOnlyList<string>> _steps = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The steps of the route's pipeline, or null before its first request under the current file.</summary>
    public IReadOnlyList<string>? StepsOf(string routeId) => _steps.TryGetValue(routeId, out var steps) ? steps : null;

    internal void Built(string routeId, IReadOnlyList<string> steps) => _steps[routeId] = steps;

    internal void Clear() => _steps.Clear();
}
