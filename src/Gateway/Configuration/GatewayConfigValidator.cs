using Yarp.ReverseProxy.Configuration;

namespace Portico.Gateway.Configuration;

/// <summary>
/// The checks YARP leaves out or reports too late: a route's cluster exists, destinations are absolute
/// http(s) URLs, every cluster has somewhere to send traffic. YARP's own validator runs after these.
/// </summary>
internal static class GatewayConfigValidator
{
    public static void Validate(IReadOnlyList<RouteConfig> routes, IReadOnlyList<ClusterConfig> clusters, List<string> errors)
    {
        var clusterIds = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var cluster in clusters)
        {
            clusterIds.Add(cluster.ClusterId);
            if (cluster.Destinations is not { Count: > 0 })
            {
                errors.Add($"Cluster '{cluster.ClusterId}' has no destinations.");
                continue;
            }
            foreach (var (name, destination) in cluster.Destinations)
            {
                if (!IsHttpUrl(destination.Address))
                {
                    errors.Add($"Cluster '{cluster.ClusterId}' destination '{name}' has an invalid address '{destination.Address}': an absolute http or https URL is required.");
                }
                if (destination.Health is { Length: > 0 } health && !IsHttpUrl(health))
                {
                    errors.Add($"Cluster '{cluster.ClusterId}' destination '{name}' has an invalid health address '{health}'.");
                }
            }
        }

        foreach (var route in routes)
        {
            if (string.IsNullOrWhiteSpace(route.ClusterId))
            {
                errors.Add($"Route '{route.RouteId}' has no ClusterId.");
            }
            else if (!clusterIds.Contains(route.ClusterId))
            {
                errors.Add($"Route '{route.RouteId}' refers to unknown cluster '{route.ClusterId}'.");
            }
            if (string.IsNullOrWhiteSpace(route.Match.Path) && route.Match.Hosts is not { Count: > 0 })
            {
                errors.Add($"Route '{route.RouteId}' needs Match.Path or Match.Hosts.");
            }
            if (route.MaxRequestBodySize is < -1)
            {
                errors.Add($"Route '{route.RouteId}' has a negative MaxRequestBodySize.");
            }
        }
    }

    private static bool IsHttpUrl(string? address) =>
        Uri.TryCreate(address, UriKind.Absolute, out var uri)
        && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
        && !string.IsNullOrEmpty(uri.Host);
}
