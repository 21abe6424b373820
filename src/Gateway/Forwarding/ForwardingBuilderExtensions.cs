using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Portico.Gateway.Configuration;
using Portico.Gateway.Forwarding;
using Yarp.ReverseProxy.Forwarder;

namespace Microsoft.Extensions.DependencyInjection;

public static class ForwardingBuilderExtensions
{
    /// <summary>
    /// Puts Portico's HTTP/1.1 forwarder in front of YARP's (<c>Portico:Forwarding</c>): it serves the requests it
    /// can and hands every other one to YARP's forwarder, which it keeps.
    /// </summary>
    public static IReverseProxyBuilder AddPorticoForwarding(this IReverseProxyBuilder builder)
    {
        var services = builder.Services;
        var yarp = services.LastOrDefault(d => d.ServiceType == typeof(IHttpForwarder))
            ?? throw new InvalidOperationException("AddPorticoForwarding must follow AddReverseProxy.");
        services.Remove(yarp);
        services.AddSingleton<UpstreamMetrics>();
        services.AddSingleton(sp => new Http1Forwarder(Resolve(sp, yarp), sp.GetRequiredService<IOptions<GatewayOptions>>(),
            sp.GetRequiredService<UpstreamMetrics>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<Http1Forwarder>>()));
        services.AddSingleton<IHttpForwarder>(sp => sp.GetRequiredService<Http1Forwarder>());
        return builder;
    }

    private static IHttpForwarder Resolve(IServiceProvider services, ServiceDescriptor descriptor) => (IHttpForwarder)(
        descriptor.ImplementationInstance
        ?? descriptor.ImplementationFactory?.Invoke(services)
        ?? ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!));
}
