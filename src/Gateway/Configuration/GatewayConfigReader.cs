using Microsoft.Extensions.Configuration;
using Yarp.ReverseProxy.Configuration;

namespace Portico.Gateway.Configuration;

/// <summary>
/// Reads YARP's <c>ReverseProxy</c> section (the documented YARP shape) into route and cluster records,
/// and gives clusters without health settings Portico's defaults.
/// </summary>
internal static class GatewayConfigReader
{
    public const string ProxySection = "ReverseProxy";

    /// <summary>Passive health policy that reacts to refused connections at once (see <c>Routing/</c>).</summary>
    public const string ConnectionFailurePolicy = "ConnectionFailure";

    public static (List<RouteConfig> Routes, List<ClusterConfig> Clusters) Read(
        IConfiguration configuration, HealthCheckDefaults healthDefaults, List<string> errors)
    {
        var proxy = configuration.GetSection(ProxySection);
        var clusters = new List<ClusterConfig>();
        foreach (var section in proxy.GetSection("Clusters").GetChildren())
        {
            if (TryBind<ClusterConfig>(section, "cluster", errors) is { } cluster)
            {
                clusters.Add(WithDefaults(cluster with { ClusterId = section.Key }, healthDefaults));
            }
        }

        var routes = new List<RouteConfig>();
        foreach (var section in proxy.GetSection("Routes").GetChildren())
        {
            if (TryBind<RouteConfig>(section, "route", errors) is { } route)
            {
                routes.Add(route with { RouteId = section.Key, Match = route.Match ?? new RouteMatch() });
            }
        }
        return (routes, clusters);
    }

    private static T? TryBind<T>(IConfigurationSection section, string kind, List<string> errors) where T : class
    {
        try
        {
            return section.Get<T>(o => o.ErrorOnUnknownConfiguration = true) ?? throw new InvalidOperationException("The section is empty.");
        }
        catch (InvalidOperationException ex)
        {
            errors.Add($"The {kind} '{section.Key}' cannot be read: {ex.Message}");
            return null;
        }
    }

    private static ClusterConfig WithDefaults(ClusterConfig cluster, HealthCheckDefaults defaults)
    {
        var health = cluster.HealthCheck ?? new HealthCheckConfig();
        return cluster with
        {
            HealthCheck = health with
            {
                Active = health.Active ?? new ActiveHealthCheckConfig
                {
                    Enabled = defaults.ActiveEnabled,
                    Interval = defaults.ActiveInterval,
                    Timeout = defaults.ActiveTimeout,
                    Path = defaults.ActivePath,
                    Policy = "ConsecutiveFailures",
                },
                Passive = health.Passive ?? new PassiveHealthCheckConfig
                {
                    Enabled = true,
                    Policy = ConnectionFailurePolicy,
                    ReactivationPeriod = defaults.PassiveReactivationPeriod,
                },
            },
        };
    }
}
