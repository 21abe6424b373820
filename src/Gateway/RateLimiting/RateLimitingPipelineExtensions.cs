using Microsoft.Extensions.DependencyInjection;
using Portico.Gateway.Configuration;
using Portico.Gateway.RateLimiting;
using Portico.Gateway.Routing;

namespace Microsoft.AspNetCore.Builder;

internal static class RateLimitingPipelineExtensions
{
    /// <summary>The route's rate limit (metadata <c>Portico.RateLimit</c>), on routes that name one.</summary>
    public static RoutePipelineBuilder UsePorticoRateLimiting(this RoutePipelineBuilder pipeline)
    {
        var settings = pipeline.ApplicationServices.GetRequiredService<GatewayConfigProvider>().GetSection<RateLimitingSettings>();
        if (settings.PolicyByRoute.ContainsKey(pipeline.Route.Config.RouteId))
        {
            pipeline.Named("rate-limit").Use(pipeline.ApplicationServices.GetRequiredService<RateLimitingMiddleware>().InvokeAsync);
        }
        return pipeline;
    }
}
