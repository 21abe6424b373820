using Microsoft.Extensions.DependencyInjection.Extensions;
using Portico.Gateway.Caching;
using Portico.Gateway.Configuration;
using Yarp.ReverseProxy.Transforms;

namespace Microsoft.Extensions.DependencyInjection;

public static class CachingBuilderExtensions
{
    /// <summary>
    /// Adds named cache policies (<c>Portico:Caching:Policies</c> in the gateway file): two tiers (memory, and the
    /// shared store), request coalescing, stale-while-revalidate and stale-if-error, purge by route or tag.
    /// Register after <see cref="ResilienceBuilderExtensions.AddPorticoResilience"/>: a 5xx held back for a
    /// retry is not a failure yet.
    /// </summary>
    public static IReverseProxyBuilder AddPorticoCaching(this IReverseProxyBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<CachingOptions>().BindConfiguration(CachingOptions.SectionName);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IGatewayConfigSection, CachingConfigSection>());
        services.TryAddSingleton<CacheMetrics>();
        services.TryAddSingleton<CacheTiers>();
        services.AddHostedService(sp => sp.GetRequiredService<CacheTiers>());
        services.TryAddSingleton<CacheRefresher>();
        services.TryAddSingleton<CachingMiddleware>();

        // A 5xx that a stale entry can replace is held back, so the cache can answer instead.
        builder.AddTransforms(static transforms => transforms.AddResponseTransform(static context =>
        {
            if (!context.SuppressResponseBody && context.ProxyResponse is { } upstream && (int)upstream.StatusCode >= 500
                && context.HttpContext.Features.Get<CacheFallbackFeature>() is { } fallback)
            {
                fallback.UpstreamFailed = true;
                context.SuppressResponseBody = true;
            }
            return default;
        }));
        return builder;
    }
}
