using System.Globalization;
using Portico.Gateway.Configuration;

namespace Portico.Gateway.Versioning;

/// <summary>The deprecated routes of one version of the gateway file, by route id.</summary>
internal sealed class VersioningSettings(IReadOnlyDictionary<string, RouteDeprecation> deprecationByRoute)
{
    public IReadOnlyDictionary<string, RouteDeprecation> DeprecationByRoute { get; } = deprecationByRoute;
}

/// <summary>
/// Checks the gateway file's versioning metadata with the rest of it: each deprecated route's dates and successor, and
/// each destination's <c>Portico.Weight</c> (a whole number from 0, in a cluster that balances by weight, not all 0).
/// </summary>
internal sealed class VersioningConfigSection : IGatewayConfigSection
{
    public object Read(GatewayConfigContext context)
    {
        var deprecations = new Dictionary<string, RouteDeprecation>(StringComparer.OrdinalIgnoreCase);
        foreach (var route in context.Routes)
        {
            if (RouteDeprecation.Read(route.RouteId, route.Metadata, context.Errors) is { } deprecation)
            {
                deprecations[route.RouteId] = deprecation;
            }
        }

        foreach (var cluster in context.Clusters)
        {
            var weighted = string.Equals(cluster.LoadBalancingPolicy, WeightedLoadBalancingPolicy.PolicyName, StringComparison.OrdinalIgnoreCase);
            var total = 0L;
            foreach (var (id, destination) in cluster.Destinations ?? new Dictionary<string, Yarp.ReverseProxy.Configuration.DestinationConfig>())
            {
                if (destination.Metadata?.GetValueOrDefault(VersioningMetadata.Weight) is not { } text)
                {
                    total += 1;
                    continue;
                }
                if (!weighted)
                {
                    context.Errors.Add($"Cluster '{cluster.ClusterId}': destination '{id}' has {VersioningMetadata.Weight}, which only the "
                        + $"\"{WeightedLoadBalancingPolicy.PolicyName}\" LoadBalancingPolicy reads; set it, or remove the weight.");
                }
                else if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var weight) || weight > VersioningMetadata.MaxWeight)
                {
                    context.Errors.Add($"Cluster '{cluster.ClusterId}': destination '{id}' {VersioningMetadata.Weight} must be a whole number from 0 to {VersioningMetadata.MaxWeight}, not '{text}'.");
                    total += 1;
                }
                else
                {
                    total += weight;
                }
            }
            if (weighted && total == 0)
            {
                context.Errors.Add($"Cluster '{cluster.ClusterId}': every destination has {VersioningMetadata.Weight} 0, so none would get a request.");
            }
        }
        return new VersioningSettings(deprecations);
    }
}
