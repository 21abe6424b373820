using System.Text;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Portico.Gateway.Admin;
using Portico.Gateway.Configuration;
using Portico.Gateway.Routing;
using Portico.Gateway.Store;
using Portico.Gateway.Telemetry;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Health;

namespace Microsoft.Extensions.Hosting;

public static class GatewayHostingExtensions
{
    /// <summary>
    /// Adds the Portico gateway: YARP fed from the validated, hot-reloaded gateway file, service-discovery
    /// destinations, Portico's health defaults, request limits, problem+json answers, secure-by-default
    /// authorization, rate limiting and resilience. Call ServiceDefaults' <c>AddJwtAuthentication</c> beside it.
    /// </summary>
    public static IReverseProxyBuilder AddPorticoGateway(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<GatewayOptions>()
            .BindConfiguration(GatewayOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        // Data annotations do not look into the nested records by themselves.
        services.AddSingleton<IValidateOptions<GatewayOptions>, NestedGatewayOptionsValidator>();
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<GatewayOptions>>((kestrel, gateway) =>
        {
            var limits = gateway.Value.Limits;
            kestrel.AddServerHeader = false;
            // RFC 9110 §5.5 allows obs-text (bytes 0x80-0xFF) in field values; both forwarders read upstream values as
            // Latin-1, so writing them back as Latin-1 relays the origin's bytes unchanged instead of failing with 502.
            kestrel.ResponseHeaderEncodingSelector = static _ => Encoding.Latin1;
            kestrel.Limits.MaxRequestBodySize = limits.MaxRequestBodySize;
            kestrel.Limits.MaxRequestHeadersTotalSize = limits.MaxRequestHeadersTotalSize;
            kestrel.Limits.MaxRequestHeaderCount = limits.MaxRequestHeaderCount;
        });

        services.AddOptions<AccessLogOptions>().BindConfiguration(AccessLogOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<AccessLogFile>();
        services.AddHostedService(sp => sp.GetRequiredService<AccessLogFile>());
        services.DropPerRequestNoise();
        services.AddOptions<AdminOptions>().BindConfiguration(AdminOptions.SectionName);
        services.TryAddSingleton(TimeProvider.System);
        services.AddProblemDetails();

        services.TryAddSingleton<GatewayConfigProvider>();
        services.AddSingleton<IProxyConfigProvider>(sp => sp.GetRequiredService<GatewayConfigProvider>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPassiveHealthCheckPolicy, ConnectionFailurePassivePolicy>());
        services.TryAddSingleton<RequestBodyLimit>();
        services.TryAddSingleton<GatewayStore>();
        services.AddHostedService(sp => sp.GetRequiredService<GatewayStore>());

        return services.AddReverseProxy()
            .AddServiceDiscoveryDestinationResolver()
            .AddPorticoSecurity()
            .AddPorticoRateLimiting()
            .AddPorticoResilience()
            .AddPorticoCaching()
            .AddPorticoTranscoding()
            .AddPorticoCompositions()
            .AddPorticoForwarding();
    }
}
