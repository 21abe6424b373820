using Microsoft.Extensions.DependencyInjection;
using Portico.Gateway.Forwarding;
using Portico.Gateway.Routing;

namespace Microsoft.AspNetCore.Builder;

internal static class ForwardingPipelineExtensions
{
    /// <summary>Times the forwarder alone, one attempt at a time (free while no one listens to the histogram).</summary>
    public static RoutePipelineBuilder UsePorticoUpstreamMetrics(this RoutePipelineBuilder pipeline)
    {
        pipeline.Named("upstream-metrics").Use(pipeline.ApplicationServices.GetRequiredService<UpstreamMetrics>().InvokeAsync);
        return pipeline;
    }
}
