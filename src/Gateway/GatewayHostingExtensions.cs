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
    private const string DisableBareLineFeeds = "Microsoft.AspNetCore.Server.Kestrel.DisableHttp1LineFeedTerminators";

    /// <summary>
    /// Adds the Portico gateway: YARP fed from the validated, hot-reloaded gateway file, service-discovery
    /// destinations, Portico's health defaults, request limits, problem+json answers, secure-by-default
    /// authorization, rate limiting and resilience. Call ServiceDefaults' <c>AddJwtAuthentication</c> beside it.
    /// </summary>
    public static IReverseProxyBuilder AddPorticoGateway(this IHostApplicationBuilder builder)
    {
        // RFC 9112 §2.2 lets a server take a bare LF as a line end, and Kestrel does by default; in front of
        // services whose parsers may not, one head could be read two ways. An operator's own setting wins.
        if (!AppContext.TryGetSwitch(DisableBareLineFeeds, out _))
        {
            AppContext.SetSwitch(DisableBareLineFeeds, true);
        }

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
            // One char per byte both ways, so header bytes (obs-text, UTF-8) pass unchanged; see ForwarderClientFactory.
            kestrel.RequestHeaderEncodingSelector = static _ => Encoding.Latin1;
            kestrel.ResponseHeaderEncodingSelector = static _ => Encoding.Latin1;
            kestrel.Limits.MaxRequestBodySize = limits.MaxRequestBodySize;
            kestrel.Limits.MaxRequestHeadersTotalSize = limits.MaxRequestHeadersTotalSize;
            kestrel.Limits.MaxRequestHeaderCount = limits.MaxRequestHeaderCount;
        });

        services.AddOptions<AccessLogOptions>().BindConfiguration(AccessLogOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<AccessLogFile>();
        services.AddHostedService(sp => sp.GetRequiredService<AccessLogFile>());
        services.DropPerRequestNoise();
        services.AddOptions<AdminOptions>().BindConfiguration(AdminOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AdminOptions>, AdminOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddProblemDetails();

        services.TryAddSingleton<GatewayConfigProvider>();
        services.AddSingleton<IProxyConfigProvider>(sp => sp.GetRequiredService<GatewayConfigProvider>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPassiveHealthCheckPolicy, ConnectionFailurePassivePolicy>());
        services.TryAddSingleton<RequestBodyLimit>();
        services.TryAddSingleton<GatewayStore>();
        services.AddHostedService(sp => sp.GetRequiredService<GatewayStore>());
        builder.AddPorticoCachePurgeOnEvents();
        builder.AddPorticoJobs();

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
