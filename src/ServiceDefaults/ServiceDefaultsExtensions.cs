using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Portico.ServiceDefaults.Hardening;
using Portico.ServiceDefaults.Logging;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What every Portico process shares: OpenTelemetry, health checks, resilient, discoverable <see cref="HttpClient"/>s,
/// hardening headers on every answer, and <c>/metrics</c> for the internal network only.
/// </summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>Tag of the health checks that say the process itself is up.</summary>
    public const string LiveTag = "live";

    public const string LivePath = "/health/live";
    public const string ReadyPath = "/health/ready";
    public const string MetricsPath = "/metrics";

    /// <summary>
    /// Adds telemetry, health checks, service discovery, HttpClient resilience, and the hardening headers of
    /// <see cref="HardeningHeadersOptions"/> in front of the request pipeline.
    /// </summary>
    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        // A console format for log shippers (Logging:Console:FormatterName=ecs): one ECS JSON object per line.
        builder.Logging.AddConsoleFormatter<EcsConsoleFormatter, EcsConsoleFormatterOptions>(o =>
            o.ServiceName = builder.Configuration["OTEL_SERVICE_NAME"] ?? builder.Environment.ApplicationName);
        builder.Services.AddOptions<HardeningHeadersOptions>().BindConfiguration(HardeningHeadersOptions.SectionName);
        builder.Services.AddTransient<IStartupFilter, HardeningHeadersStartupFilter>();

        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });
        return builder;
    }

    /// <summary>Traces, metrics and logs; exported over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set.</summary>
    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
            // Before the exporter: secrets never reach the batch it sends (the ecs console format redacts the same way).
            logging.AddProcessor(new RedactingLogProcessor());
        });

        var telemetry = builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter("Portico.*")
                .AddPrometheusExporter());

        // Spans are recorded only when they have somewhere to go: with no collector they would cost every
        // request (about 20 µs on the gateway, see docs/benchmarks.md) for nothing. An incoming traceparent
        // still travels on, so traces stay joined across processes that do export.
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            telemetry
                .WithTracing(tracing => tracing
                    .AddSource(builder.Environment.ApplicationName)
                    .AddSource("Portico.*")
                    // Probes and scrapes would drown the traces that matter.
                    .AddAspNetCoreInstrumentation(o => o.Filter = context => !IsInfrastructurePath(context.Request.Path))
                    .AddHttpClientInstrumentation())
                .UseOtlpExporter();
        }
        return builder;
    }

    /// <summary>A "self" check tagged <see cref="LiveTag"/>; services add their dependency checks for readiness.</summary>
    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);
        return builder;
    }

    /// <summary>
    /// Maps <c>/health/live</c> (the process answers), <c>/health/ready</c> (every registered check passes)
    /// and <c>/metrics</c> (Prometheus text format, for the internal network only: see <see cref="MetricsAllowedNetworks"/>).
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        // Probes and scrapes carry no token; where a fallback policy demands one, these stay open.
        app.MapHealthChecks(LivePath, new HealthCheckOptions { Predicate = r => r.Tags.Contains(LiveTag) }).AllowAnonymous();
        app.MapHealthChecks(ReadyPath).AllowAnonymous();
        // Metrics name routes, clients and internals: scraped from the internal network only (Portico:Metrics:AllowedNetworks).
        var allowed = MetricsAllowedNetworks(app.Configuration);
        app.MapPrometheusScrapingEndpoint(MetricsPath, meterProvider: null, configureBranchedPipeline: branch => branch.Use(async (context, next) =>
        {
            if (context.Connection.RemoteIpAddress is not { } remote || !allowed.Any(n => n.Contains(remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote)))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }
            await next(context);
        }), optionsName: null).AllowAnonymous();
        return app;
    }

    /// <summary>
    /// Networks allowed to read <c>/metrics</c> (<c>Portico:Metrics:AllowedNetworks</c>, CIDR): by default loopback and the
    /// private ranges (10/8, 172.16/12, 192.168/16, fc00::/7) where a scraper runs. Others get 404.
    /// </summary>
    public static IReadOnlyList<System.Net.IPNetwork> MetricsAllowedNetworks(Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        var configured = configuration.GetSection("Portico:Metrics:AllowedNetworks").GetChildren().Select(c => c.Value).OfType<string>().ToList();
        string[] entries = configured.Count > 0
            ? [.. configured]
            : ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"];
        return entries.Select(e => System.Net.IPNetwork.TryParse(e, out var network)
            ? network
            : throw new InvalidOperationException($"Portico:Metrics:AllowedNetworks: '{e}' is not a CIDR network such as 10.0.0.0/8.")).ToList();
    }

    private static bool IsInfrastructurePath(PathString path) =>
        path.StartsWithSegments("/health", StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments(MetricsPath, StringComparison.OrdinalIgnoreCase);
}
