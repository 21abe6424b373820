using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;

namespace Portico.Gateway.Telemetry;

/// <summary>The one meter every gateway feature records into (ServiceDefaults exports <c>Portico.*</c>).</summary>
internal static class GatewayMeter
{
    public const string Name = "Portico.Gateway";

    /// <summary>
    /// Instruments that record on every proxied request but tell an operator nothing the kept ones do not:
    /// the forwarder's connection-pool bookkeeping (four updates per request), its queue time and in-flight
    /// count, routing's match counter, and Kestrel's buffer-pool rent and return counts (several per request). Together they were about 3 % of the proxy's CPU (docs/benchmarks.md).
    /// Kept: <c>http.server.*</c> per route and status, Kestrel's connection and buffer allocation metrics and
    /// Portico's own, among them <c>portico.gateway.upstream.duration</c> per destination (HttpClient's
    /// <c>http.client.request.duration</c> stays for the calls that still go through it).
    /// </summary>
    private static readonly string[] Dropped =
    [
        "http.client.open_connections",
        "http.client.request.time_in_queue",
        "http.client.active_requests",
        "aspnetcore.routing.match_attempts",
        "aspnetcore.memory_pool.rented",
        "aspnetcore.memory_pool.pooled",
    ];

    public static IServiceCollection DropPerRequestNoise(this IServiceCollection services) =>
        services.ConfigureOpenTelemetryMeterProvider(metrics =>
        {
            foreach (var name in Dropped)
            {
                metrics.AddView(name, MetricStreamConfiguration.Drop);
            }
        });
}
