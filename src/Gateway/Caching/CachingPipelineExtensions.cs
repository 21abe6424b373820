using Microsoft.Extensions.DependencyInjection;
using Portico.Gateway.Caching;
using Portico.Gateway.Configuration;
using Portico.Gateway.Routing;

namespace Microsoft.AspNetCore.Builder;

internal static class CachingPipelineExtensions
{
    /// <summary>
    /// The cache, on routes with a cache policy, and on routes that accept unsafe methods while any route caches: their
    /// POST, PUT, PATCH or DELETE invalidates what a cached route stored for the same URI (RFC 9111 §4.4).
    /// </summary>
    public static RoutePipelineBuilder UsePorticoCaching(this RoutePipelineBuilder pipeline)
    {
        var settings = pipeline.ApplicationServices.GetRequiredService<GatewayConfigProvider>().GetSection<CachingSettings>();
        var methods = pipeline.Route.Config.Match.Methods;
        var mayInvalidate = settings.PolicyByRoute.Count != 0 && (methods is null || methods.Any(CachingMiddleware.IsUnsafe));
        if (settings.PolicyByRoute.ContainsKey(pipeline.Route.Config.RouteId) || mayInvalidate)
        {
            pipeline.Named("cache").Use(pipeline.ApplicationServices.GetRequiredService<CachingMiddleware>().InvokeAsync);
        }
        return pipeline;
    }
}
