using Microsoft.Extensions.DependencyInjection.Extensions;
using Portico.Gateway.Caching;
using Portico.Gateway.Configuration;
using Portico.Gateway.Routing;
using Yarp.ReverseProxy.Transforms;

namespace Microsoft.Extensions.DependencyInjection;

internal static class CachingBuilderExtensions
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
        services.AddHostSettings<CachingOptions, CachingOptionsValidator>(CachingOptions.SectionName);
        services.AddSingleton(SettingHome.GatewayFile(CachingConfigSection.SectionPath));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IGatewayConfigSection, CachingConfigSection>());
        services.TryAddSingleton<CacheMetrics>();
        services.TryAddSingleton<CacheTiers>();
        services.AddHostedService(sp => sp.GetRequiredService<CacheTiers>());
        services.TryAddSingleton<CacheRefresher>();
        services.TryAddSingleton<CachingMiddleware>();

        // A 5xx that a stale entry can replace is held back, so the cache can answer instead.
        builder.AddTransforms(static transforms => transforms.AddResponseTransform(static context =>
        {
            // RFC 9110 §7.6.1: fields the upstream named in Connection are for that hop alone, so they are neither
            // relayed nor stored (RFC 9111 §3.1). YARP drops Connection itself but not the fields it names.
            if (context.ProxyResponse is { } answer && answer.Headers.Connection.Count != 0)
            {
                foreach (var name in answer.Headers.Connection)
                {
                    if (!name.Equals("close", StringComparison.OrdinalIgnoreCase) && !name.Equals("keep-alive", StringComparison.OrdinalIgnoreCase))
                    {
                        context.HttpContext.Response.Headers.Remove(name);
                    }
                }
            }
            if (!context.SuppressResponseBody && context.ProxyResponse is { } upstream && (int)upstream.StatusCode >= 500
                && context.HttpContext.Features.Get<FailureFallbackFeature>() is { } fallback)
            {
                fallback.UpstreamFailed = true;
                context.SuppressResponseBody = true;
            }
            return default;
        }));
        return builder;
    }
}
