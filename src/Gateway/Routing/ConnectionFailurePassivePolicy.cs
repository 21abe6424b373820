using Microsoft.AspNetCore.Http;
using Portico.Gateway.Configuration;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace Portico.Gateway.Routing;

/// <summary>
/// Passive health: a destination that refuses a connection is taken out of load balancing at once for the
/// cluster's reactivation period, instead of waiting for a failure rate to build up or for the next active probe.
/// </summary>
internal sealed class ConnectionFailurePassivePolicy(IDestinationHealthUpdater healthUpdater) : IPassiveHealthCheckPolicy
{
    private static readonly TimeSpan DefaultReactivationPeriod = TimeSpan.FromSeconds(10);

    public string Name => GatewayConfigReader.ConnectionFailurePolicy;

    public void RequestProxied(HttpContext context, ClusterState cluster, DestinationState destination)
    {
        var error = context.Features.Get<Yarp.ReverseProxy.Forwarder.IForwarderErrorFeature>();
        if (error is not null && TransportErrors.IsConnectionRefused(error.Exception))
        {
            var period = cluster.Model.Config.HealthCheck?.Passive?.ReactivationPeriod ?? DefaultReactivationPeriod;
            healthUpdater.SetPassive(cluster, destination, DestinationHealth.Unhealthy, period);
        }
    }
}
