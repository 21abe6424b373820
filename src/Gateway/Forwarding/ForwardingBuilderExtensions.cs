using Microsoft.Extensions.DependencyInjection.Extensions;
using Portico.Gateway.Forwarding;
using Yarp.ReverseProxy.Forwarder;

namespace Microsoft.Extensions.DependencyInjection;

internal static class ForwardingBuilderExtensions
{
    /// <summary>
    /// Every request is forwarded by YARP's <c>IHttpForwarder</c> over its <c>SocketsHttpHandler</c>. Portico sets the
    /// client's header encodings so header bytes pass unchanged, and times each attempt
    /// (<c>portico.gateway.upstream.duration</c>, the last per-route step).
    /// </summary>
    public static IReverseProxyBuilder AddPorticoForwarding(this IReverseProxyBuilder builder)
    {
        builder.Services.Replace(ServiceDescriptor.Singleton<IForwarderHttpClientFactory, ForwarderClientFactory>());
        builder.Services.TryAddSingleton<UpstreamMetrics>();
        return builder;
    }
}
