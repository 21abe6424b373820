using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Portico.Gateway.Admin;
using Microsoft.AspNetCore.Routing;
using Portico.Gateway.Caching;
using Portico.Gateway.Composition;
using Portico.Gateway.Configuration;
using Microsoft.Extensions.Options;
using Portico.Gateway.Routing;
using Portico.Gateway.Security;
using Portico.Gateway.Telemetry;
using Portico.Gateway.Transcoding;

namespace Microsoft.AspNetCore.Builder;

public static class GatewayApplicationExtensions
{
    /// <summary>
    /// Middleware that runs for every request: access log, request id, the edge's header rules and hardening headers, then routing,
    /// fresh public cache hits that need nothing else, CORS, authentication, authorization and rate limiting
    /// (which need the matched route).
    /// </summary>
    public static WebApplication UsePorticoGateway(this WebApplication app)
    {
        app.UseMiddleware<AccessLogMiddleware>();
        app.UseMiddleware<RequestIdMiddleware>();
        app.Use(RequestHeaderRules.InvokeAsync);
        if (app.Services.GetRequiredService<IOptions<SecurityOptions>>().Value.HardeningHeaders)
        {
            app.UseMiddleware<SecurityHeadersMiddleware>();
        }
        app.UsePorticoAdminAccess();
        app.UseRouting();
        app.Use(app.Services.GetRequiredService<CachingMiddleware>().ServeEarlyHits);
        app.UseCors();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter(); // ASP.NET Core policies a route names with YARP's RateLimiterPolicy; Portico's run per route
        return app;
    }

    /// <summary>
    /// Maps the proxy with Portico's per-route pipeline, and a problem+json 404 for every path no route claims.
    /// Throws <see cref="GatewayConfigurationException"/>, listing every error, when the gateway file is invalid.
    /// </summary>
    public static WebApplication MapPorticoGateway(this WebApplication app)
    {
        app.Services.GetRequiredService<GatewayConfigProvider>().EnsureValid();

        // Each route runs only the steps its configuration uses (RoutePipelines), in this order.
        app.MapReverseProxy(proxy => proxy.UseRoutePipelines(route => route
            .UsePorticoRateLimiting()          // the route's policy of the gateway file in force
            .UsePorticoEdgeAnswers()           // 413 before a destination is chosen; problem bodies for forwarder failures
            .UsePorticoCaching()               // a hit ends here; stale-if-error is the last resort
            .UseSessionAffinityWhereEnabled()
            .UsePorticoResilience()            // each attempt runs the steps below afresh
            .UseLoadBalancingStep()
            .UsePorticoCircuitBreaker()
            .UsePassiveHealthChecksWhereEnabled()
            .UsePorticoUpstreamMetrics()));    // times YARP's forwarder alone, one attempt at a time

        ((IEndpointRouteBuilder)app).DataSources.Add(app.Services.GetRequiredService<CompositionEndpointDataSource>());
        ((IEndpointRouteBuilder)app).DataSources.Add(app.Services.GetRequiredService<TranscodingEndpointDataSource>());
        app.MapPorticoJobs();
        app.MapPorticoAdminApi();
        app.MapPorticoOpenApi();
        app.MapPorticoDashboard();
        app.MapFallback("{**path}", static context => GatewayProblems.WriteAsync(context, StatusCodes.Status404NotFound,
            "No route", $"No route matches {context.Request.Method} {context.Request.Path}.").AsTask()).AllowAnonymous();
        return app;
    }
}
