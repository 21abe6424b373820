using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Http;
using Portico.Gateway.Telemetry;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace Portico.Gateway.Forwarding;

/// <summary>
/// How long each destination took to answer, for every call the gateway makes to a cluster: proxied requests (the
/// last step of the per-route pipeline, wrapped around YARP's forwarder, so it times exactly one attempt at one
/// destination) and the cluster client's calls. The one place an operator reads per-destination latency and
/// failures, tagged by cluster, destination, status and the failure's type.
/// </summary>
internal sealed class UpstreamMetrics(IMeterFactory meterFactory, TimeProvider time)
{
    private readonly Histogram<double> _duration = meterFactory.Create(GatewayMeter.Name).CreateHistogram(
        "portico.gateway.upstream.duration", unit: "s",
        description: "Time from sending a request to a destination until its answer was relayed.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });

    /// <summary>Status codes boxed once, so that tagging a measurement allocates nothing.</summary>
    private static readonly object[] BoxedStatusCodes = Enumerable.Range(0, 600).Select(static code => (object)code).ToArray();

    private static object Boxed(int status) => (uint)status < (uint)BoxedStatusCodes.Length ? BoxedStatusCodes[status] : status;

    public Task InvokeAsync(HttpContext context, RequestDelegate next) =>
        _duration.Enabled ? TimeAsync(context, next) : next(context); // nobody listening: no cost

    private async Task TimeAsync(HttpContext context, RequestDelegate next)
    {
        var start = time.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            Record(context, time.GetElapsedTime(start));
        }
    }

    private void Record(HttpContext context, TimeSpan elapsed)
    {
        if (context.Features.Get<IReverseProxyFeature>() is not { } proxy)
        {
            return;
        }
        var error = context.GetForwarderErrorFeature() is { Error: not ForwarderError.None } failure ? failure.Error.ToString() : null;
        Record(proxy.Route.Cluster?.ClusterId, proxy.ProxiedDestination?.DestinationId, context.Response.StatusCode, error, elapsed);
    }

    /// <summary>One attempt at one destination; <paramref name="errorType"/> names the failure when there was no answer (status 0).</summary>
    public void Record(string? clusterId, string? destinationId, int status, string? errorType, TimeSpan elapsed)
    {
        if (!_duration.Enabled)
        {
            return;
        }
        var tags = new TagList
        {
            { "cluster", clusterId },
            { "destination", destinationId },
            { "http.response.status_code", Boxed(status) },
        };
        if (errorType is not null)
        {
            tags.Add("error.type", errorType);
        }
        _duration.Record(elapsed.TotalSeconds, tags);
    }
}
