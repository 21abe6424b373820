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
        services.AddHostSettings<GatewayOptions, GatewayOptionsValidator>(GatewayOptions.SectionName);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GatewayOptions>, MisplacedHostSettingsValidator>());
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

        services.AddHostSettings<AccessLogOptions, AccessLogOptionsValidator>(AccessLogOptions.SectionName);
        services.TryAddSingleton<AccessLogFile>();
        services.TryAddSingleton<LiveRequests>();
        services.AddHostedService(sp => sp.GetRequiredService<AccessLogFile>());
        services.DropPerRequestNoise();
        services.AddPorticoAdmin();
        services.TryAddSingleton(TimeProvider.System);
        services.AddProblemDetails();

        services.TryAddSingleton<GatewayConfigProvider>();
        services.AddSingleton<IProxyConfigProvider>(sp => sp.GetRequiredService<GatewayConfigProvider>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPassiveHealthCheckPolicy, ConnectionFailurePassivePolicy>());
        services.TryAddSingleton<RequestBodyLimit>();
        services.TryAddSingleton<RoutePipelineIndex>();
        services.TryAddSingleton<GatewayStore>();
        services.AddHostedService(sp => sp.GetRequiredService<GatewayStore>());
        builder.AddPorticoCachePurgeOnEvents();
        builder.AddPorticoJobs();

        var proxy = services.AddReverseProxy()
            .AddServiceDiscoveryDestinationResolver()
            .AddPorticoSecurity()
            .AddPorticoRateLimiting()
            .AddPorticoResilience()
            .AddPorticoCaching()
            .AddPorticoTranscoding()
            .AddPorticoCompositions()
            .AddPorticoOpenApi()
            .AddPorticoVersioning()
            .AddPorticoForwarding();
        services.AddPorticoDraining(); // last: it wraps the available-destinations policies added above
        return proxy;
    }
}
