using Microsoft.Extensions.DependencyInjection.Extensions;
using Portico.Gateway.Forwarding;

namespace Microsoft.Extensions.DependencyInjection;

public static class ForwardingBuilderExtensions
{
    /// <summary>
    /// Every request is forwarded by YARP's <c>IHttpForwarder</c> over its <c>SocketsHttpHandler</c>; Portico adds
    /// only what it measures around it (<c>portico.gateway.upstream.duration</c>, the last per-route step).
    /// </summary>
    public static IReverseProxyBuilder AddPorticoForwarding(this IReverseProxyBuilder builder)
    {
        builder.Services.TryAddSingleton<UpstreamMetrics>();
        return builder;
    }
}
