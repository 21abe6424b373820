using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Http;
using Portico.Gateway.Telemetry;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace Portico.Gateway.Forwarding;

/// <summary>
/// How long each destination took to answer: the last step of the per-route pipeline, wrapped around YARP's
/// forwarder, so it times exactly one attempt at one destination (retries and other steps are outside it). The
/// one place an operator reads per-destination latency and failures, tagged by cluster, destination, status and
/// YARP's <see cref="ForwarderError"/>.
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
        var tags = new TagList
        {
            { "cluster", proxy.Route.Cluster?.ClusterId },
            { "destination", proxy.ProxiedDestination?.DestinationId },
            { "http.response.status_code", Boxed(context.Response.StatusCode) },
        };
        if (context.GetForwarderErrorFeature() is { Error: not ForwarderError.None } failure)
        {
            tags.Add("error.type", failure.Error.ToString());
        }
        _duration.Record(elapsed.TotalSeconds, tags);
    }
}
