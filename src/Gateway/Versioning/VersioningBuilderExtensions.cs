using Microsoft.Extensions.DependencyInjection.Extensions;
using Portico.Gateway.Configuration;
using Portico.Gateway.Versioning;
using Yarp.ReverseProxy.LoadBalancing;

namespace Microsoft.Extensions.DependencyInjection;

internal static class VersioningBuilderExtensions
{
    /// <summary>
    /// Adds API versioning at the gateway: deprecation fields on routes that declare them (<c>Portico.Deprecation</c>,
    /// <c>Portico.Sunset</c>, <c>Portico.SuccessorVersion</c>) and the <c>Weighted</c> load-balancing policy for canaries.
    /// Choosing a version by path or by an <c>Api-Version</c> header is YARP's own route matching.
    /// </summary>
    public static IReverseProxyBuilder AddPorticoVersioning(this IReverseProxyBuilder builder)
    {
        var services = builder.Services;
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IGatewayConfigSection, VersioningConfigSection>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoadBalancingPolicy, WeightedLoadBalancingPolicy>());
        builder.AddTransforms<DeprecationTransformProvider>();
        return builder;
    }
}
