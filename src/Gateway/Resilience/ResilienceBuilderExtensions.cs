using Microsoft.Extensions.DependencyInjection.Extensions;
using Portico.Gateway.Configuration;
using Portico.Gateway.Resilience;
using Yarp.ReverseProxy.Transforms;

namespace Microsoft.Extensions.DependencyInjection;

internal static class ResilienceBuilderExtensions
{
    /// <summary>
    /// Adds named resilience policies (<c>Portico:Resilience:Policies</c> in the gateway file): timeouts, safe
    /// retries within a budget, a circuit breaker per destination and a bulkhead per cluster.
    /// </summary>
    public static IReverseProxyBuilder AddPorticoResilience(this IReverseProxyBuilder builder)
    {
        var services = builder.Services;
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IGatewayConfigSection, ResilienceConfigSection>());
        services.AddSingleton(SettingHome.GatewayFile("Portico:Resilience"));
        services.TryAddSingleton<ResilienceMetrics>();
        services.TryAddSingleton<ResilienceStates>();
        services.TryAddSingleton<ResilienceMiddleware>();
        services.TryAddSingleton<ClusterClient>();

        // A retryable 502/503/504 is held back (its body not copied) so the request can go elsewhere.
        builder.AddTransforms(static transforms => transforms.AddResponseTransform(static context =>
        {
            if (context.ProxyResponse is { StatusCode: System.Net.HttpStatusCode.BadGateway or System.Net.HttpStatusCode.ServiceUnavailable or System.Net.HttpStatusCode.GatewayTimeout }
                && context.HttpContext.Features.Get<ResilienceAttempt>() is { } attempt
                && attempt.TryReserveStatusRetry())
            {
                context.SuppressResponseBody = true;
            }
            return default;
        }));
        return builder;
    }
}
